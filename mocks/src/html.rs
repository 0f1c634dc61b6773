//! Page building. Each helper renders the markup the config asks for, so the
//! same screen can be shown with `<label>` or `<th>`, `<button>` or `<input>`
//! or a link, a `confirm()` or a modal.

use std::fmt::Write as _;

use crate::config::{ButtonStyle, ConfirmStyle, LabelStyle, NoticeStyle, TextVariant, UiVariants};

pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A JavaScript string literal, safe inside an HTML attribute or a script.
pub fn js(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '"' => out.push_str("\\x22"),
            '<' => out.push_str("\\x3c"),
            '>' => out.push_str("\\x3e"),
            '&' => out.push_str("\\x26"),
            '\n' => out.push_str("\\n"),
            other => out.push(other),
        }
    }
    out.push('\'');
    out
}

/// A one-line text input.
pub fn text_input(name: &str, id: &str, value: &str) -> String {
    format!(
        r#"<input type="text" name="{name}" id="{id}" value="{}">"#,
        esc(value)
    )
}

pub struct Ui<'a> {
    pub v: &'a UiVariants,
}

impl Ui<'_> {
    /// A screen text as this config shows it: renamed, and with brackets as the text variant writes them.
    pub fn t(&self, s: &str) -> String {
        let s = self.v.renames.get(s).map(String::as_str).unwrap_or(s);
        match self.v.texts {
            TextVariant::FullWidth => s.replace('(', "（").replace(')', "）"),
            _ => s.to_string(),
        }
    }

    /// A button that submits its form.
    pub fn submit(&self, label: &str, attrs: &str) -> String {
        let l = esc(&self.t(label));
        match self.v.buttons {
            ButtonStyle::Button => format!(r#"<button type="submit" class="btn" {attrs}>{l}</button>"#),
            ButtonStyle::Input => format!(r#"<input type="submit" class="btn" value="{l}" {attrs}>"#),
            ButtonStyle::Link => format!(
                r##"<a href="#" class="btn" role="button" onclick="this.closest('form').requestSubmit();return false;" {attrs}>{l}</a>"##
            ),
        }
    }

    /// A button that runs `script` when clicked.
    pub fn action(&self, label: &str, script: &str, attrs: &str) -> String {
        let l = esc(&self.t(label));
        let s = esc(script);
        match self.v.buttons {
            ButtonStyle::Button => {
                format!(r#"<button type="button" class="btn" onclick="{s}" {attrs}>{l}</button>"#)
            }
            ButtonStyle::Input => {
                format!(r#"<input type="button" class="btn" value="{l}" onclick="{s}" {attrs}>"#)
            }
            ButtonStyle::Link => {
                format!(
                    r##"<a href="#" class="btn" role="button" onclick="{s};return false;" {attrs}>{l}</a>"##
                )
            }
        }
    }

    /// A button that goes to `href`.
    pub fn go(&self, label: &str, href: &str) -> String {
        match self.v.buttons {
            ButtonStyle::Link => format!(
                r#"<a href="{}" class="btn" role="button">{}</a>"#,
                esc(href),
                esc(label)
            ),
            _ => self.action(label, &format!("location.href={}", js(href)), ""),
        }
    }

    /// A form field with its label beside it.
    pub fn field(&self, label: &str, id: &str, control: &str, required: bool) -> String {
        let mark = if required {
            "<span class=\"req\">*</span>"
        } else {
            ""
        };
        let label = esc(&self.t(label));
        match self.v.labels {
            LabelStyle::Label => {
                format!(r#"<div class="field">{mark}<label for="{id}">{label}</label>{control}</div>"#)
            }
            LabelStyle::Th => format!(r#"<tr><th>{mark}{label}</th><td>{control}</td></tr>"#),
        }
    }

    /// Wraps fields made by `field` in the element their style needs.
    pub fn fields(&self, inner: &str) -> String {
        match self.v.labels {
            LabelStyle::Label => format!(r#"<div class="fields">{inner}</div>"#),
            LabelStyle::Th => format!(r#"<table class="form">{inner}</table>"#),
        }
    }

    /// A read-only value with its label, as detail screens show them.
    pub fn shown(&self, label: &str, value: &str) -> String {
        let label = esc(&self.t(label));
        match self.v.labels {
            LabelStyle::Label => format!(
                r#"<div class="field"><span class="label">{label}</span><span class="value">{}</span></div>"#,
                esc(value)
            ),
            LabelStyle::Th => format!(r#"<tr><th>{label}</th><td>{}</td></tr>"#, esc(value)),
        }
    }

    pub fn modal(&self, id: &str, title: &str, lines: &[&str], buttons: &str, visible: bool) -> String {
        let hidden = if visible { "" } else { " hidden" };
        let mut body = String::new();
        for line in lines {
            let _ = write!(body, "<p>{}</p>", esc(line));
        }
        format!(
            r#"<div class="modal-backdrop" id="{id}"{hidden}><div class="modal" role="dialog" aria-modal="true" aria-label="{t}"><div class="modal-title">{t}</div><div class="modal-body">{body}</div><div class="modal-buttons">{buttons}</div></div></div>"#,
            t = esc(title)
        )
    }

    /// Form attributes and the modal (if any) for an OK / キャンセル confirmation.
    pub fn confirm(&self, style: ConfirmStyle, id: &str, title: &str, message: &str) -> (String, String) {
        match style {
            ConfirmStyle::None => (String::new(), String::new()),
            ConfirmStyle::Confirm => (
                format!(r#"data-confirm="js" data-confirm-message="{}""#, esc(message)),
                String::new(),
            ),
            ConfirmStyle::Modal => {
                let buttons = format!(
                    "{}{}",
                    self.action("OK", "", "data-ok"),
                    self.action("キャンセル", "", "data-cancel")
                );
                (
                    format!(r#"data-confirm="modal" data-confirm-modal="{id}""#),
                    self.modal(id, title, &[message], &buttons, false),
                )
            }
        }
    }

    /// A one-button notice shown in front of the page: a visible modal or an alert.
    /// `then` is where OK leads; `None` stays on the page.
    pub fn notice(
        &self,
        style: NoticeStyle,
        id: &str,
        title: &str,
        lines: &[&str],
        then: Option<&str>,
    ) -> String {
        let go = then
            .map(|h| format!("location.href={}", js(h)))
            .unwrap_or_default();
        match style {
            NoticeStyle::Alert => {
                let text = lines.join("\n");
                format!(
                    "<script>window.addEventListener('load',function(){{alert({});{go}}});</script>",
                    js(&text)
                )
            }
            _ => {
                let ok = if go.is_empty() {
                    self.action("OK", "", "data-dismiss")
                } else {
                    self.action("OK", &go, "")
                };
                self.modal(id, title, lines, &ok, true)
            }
        }
    }
}

pub struct Header<'a> {
    pub institution: &'a str,
    pub who: &'a str,
}

pub struct Page<'a> {
    pub title: &'a str,
    pub header: Option<Header<'a>>,
    pub csrf: &'a str,
    pub logout_confirm: ConfirmStyle,
    pub body: String,
    pub head: &'a str,
}

const STYLE: &str = r#"
body{margin:0;font-family:"IPAGothic","IPAPGothic","Noto Sans CJK JP","Meiryo",sans-serif;background:#eef1f5;color:#222;font-size:14px}
.topbar{background:#1f4e8c;color:#fff;display:flex;align-items:center;padding:8px 16px;gap:16px}
.topbar .system{font-size:18px;font-weight:bold;flex:1}
.topbar .who{text-align:right;line-height:1.4}
.topbar form{margin:0}
.topbar .btn{background:#fff;color:#1f4e8c;border:1px solid #fff}
.screen-title{background:#dfe7f2;border-bottom:2px solid #1f4e8c;padding:6px 16px;font-size:16px;font-weight:bold}
main{margin:16px auto;max-width:960px;background:#fff;border:1px solid #c9d3e0;padding:16px 24px}
h1{font-size:17px;border-left:6px solid #1f4e8c;padding-left:8px}
h2{font-size:15px;color:#1f4e8c}
.btn{display:inline-block;background:#2c6db4;color:#fff;border:1px solid #1f4e8c;border-radius:3px;padding:5px 18px;margin:4px;font-size:14px;cursor:pointer;text-decoration:none;font-family:inherit}
.btn:hover{background:#1f4e8c}
.fields .field{display:flex;align-items:center;margin:6px 0}
.field label,.field .label{display:inline-block;min-width:11em;font-weight:bold}
.req{color:#c00;margin-right:2px}
input[type=text],input[type=password],select{padding:4px;border:1px solid #9aa8b8;font-size:14px;min-width:16em}
table.form th,table.detail th{background:#eef3f9;text-align:left;padding:6px 10px;border:1px solid #c9d3e0;min-width:10em}
table.form td,table.detail td{padding:6px 10px;border:1px solid #c9d3e0}
table.list{border-collapse:collapse;width:100%;margin-top:8px}
table.list th{background:#1f4e8c;color:#fff;padding:5px;border:1px solid #c9d3e0;font-weight:normal}
table.list td{padding:5px;border:1px solid #c9d3e0}
table.list tr.row{cursor:pointer}
table.list tr.row.selected td{background:#f8b35a}
.error{color:#b00;background:#fdecec;border:1px solid #e3a0a0;padding:8px 12px;margin:8px 0}
.info{color:#135;background:#eaf2fb;border:1px solid #a8c3e0;padding:8px 12px;margin:8px 0}
.note{color:#444;font-size:13px}
.menu{display:flex;flex-wrap:wrap;gap:24px}
.menu section{min-width:260px}
.menu h2{margin:8px 0 4px}
.menu ul{list-style:none;padding-left:12px;margin:4px 0}
.menu li{margin:4px 0}
.menu a{color:#1f4e8c}
.pager{margin:6px 0}
.modal-backdrop{position:fixed;inset:0;background:rgba(0,0,0,.35);display:flex;align-items:center;justify-content:center}
.modal-backdrop[hidden]{display:none}
.modal{background:#fff;border:1px solid #1f4e8c;min-width:340px;max-width:560px;box-shadow:0 4px 16px rgba(0,0,0,.3)}
.modal-title{background:#1f4e8c;color:#fff;padding:6px 12px;font-weight:bold}
.modal-body{padding:8px 16px}
.modal-buttons{text-align:center;padding:0 0 12px}
"#;

const SCRIPT: &str = r#"
document.addEventListener('submit',function(e){
  var f=e.target; var kind=f.dataset.confirm;
  if(!kind||f.dataset.confirmed){return;}
  if(kind==='js'){ if(!window.confirm(f.dataset.confirmMessage)){e.preventDefault();} return; }
  e.preventDefault();
  var m=document.getElementById(f.dataset.confirmModal); m.hidden=false;
  m.querySelector('[data-ok]').onclick=function(ev){ev.preventDefault();m.hidden=true;f.dataset.confirmed='1';f.submit();};
  m.querySelector('[data-cancel]').onclick=function(ev){ev.preventDefault();m.hidden=true;};
});
document.addEventListener('click',function(e){
  var d=e.target.closest('[data-dismiss]'); if(d){e.preventDefault();d.closest('.modal-backdrop').hidden=true;return;}
  var r=e.target.closest('tr.row');
  if(r){r.parentNode.querySelectorAll('tr.row.selected').forEach(function(x){x.classList.remove('selected');});r.classList.add('selected');}
});
document.addEventListener('dblclick',function(e){
  var r=e.target.closest('tr.row'); if(r&&r.dataset.href){location.href=r.dataset.href;}
});
function showPassword(btn){
  var box=btn.closest('.password-box'); var v=box.querySelector('.pw-value'); var m=box.querySelector('.pw-mask');
  if(v){v.hidden=false;m.hidden=true;return;}
  fetch(box.dataset.source,{credentials:'same-origin'}).then(function(r){return r.text();}).then(function(t){
    var s=document.createElement('span'); s.className='pw-value'; s.textContent=t; m.replaceWith(s);
  });
}
"#;

impl Page<'_> {
    pub fn render(&self, ui: &Ui) -> String {
        let mut html = format!(
            "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{} | オンライン資格確認等システム</title><style>{STYLE}</style>{}</head><body>",
            esc(self.title),
            self.head
        );
        html.push_str("<div class=\"topbar\"><div class=\"system\">オンライン資格確認等システム</div>");
        if let Some(h) = &self.header {
            let (attrs, modal) = ui.confirm(
                self.logout_confirm,
                "modal-logout",
                "ログアウト",
                "ログアウトします。",
            );
            let _ = write!(
                html,
                "<div class=\"who\"><div class=\"institution\">{}</div><div class=\"user\">{}</div></div><form method=\"post\" action=\"/oqs/logout\" {attrs}><input type=\"hidden\" name=\"_csrf\" value=\"{}\">{}</form>{modal}",
                esc(h.institution),
                esc(h.who),
                esc(self.csrf),
                ui.submit("ログアウト", "")
            );
        }
        let _ = write!(
            html,
            "</div><div class=\"screen-title\">{}</div><main>",
            esc(self.title)
        );
        html.push_str(&self.body);
        // A hidden dialog with its own OK on every page: only the visible one may be acted on.
        html.push_str(&ui.modal(
            "modal-error",
            "エラー",
            &["処理中にエラーが発生しました。"],
            &ui.action("OK", "", "data-dismiss"),
            false,
        ));
        let _ = write!(html, "</main><script>{SCRIPT}</script></body></html>");
        html
    }
}
