//! Page building. Each helper renders the markup the config asks for, so the
//! same screen can be shown with `<label>`, `<th>`, `<div>` pairs or plain
//! text, `<button>` or `<input>` or a link, a `confirm()` or a modal.

use std::fmt::Write as _;

use crate::config::{
    ButtonStyle, ConfirmStyle, Frames, LabelStyle, NoticeStyle, RefusalStyle, TextVariant, UiVariants,
};
use crate::message::Message;
use crate::wording::say;

/// Where the menu lives; in frames mode a link to it must leave the frame.
pub const MENU: &str = "/oqs/menu";

/// The form pages that carry standing notes (`[ui] notes`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotesFor {
    Login,
    PasswordChange,
    Register,
    Upload,
    Search,
    Results,
    Certificate,
}

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

/// A page with a heading and one sentence and none of a site's frame: maintenance, errors.
pub fn plain_page(title: &str, message: &str) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{t}</title></head><body style=\"font-family:sans-serif;margin:40px\"><h1 style=\"font-size:18px\">{t}</h1><p>{m}</p></body></html>",
        t = esc(title),
        m = esc(message)
    )
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

    /// A message the manual does not show, in this config's wording.
    pub fn say(&self, message: Message) -> &'static str {
        say(self.v, message)
    }

    /// A single refusal: an error box, or an `alert()` when the page loads.
    pub fn refusal(&self, message: &str) -> String {
        match self.v.refusals {
            RefusalStyle::Inline => format!("<div class=\"error\" role=\"alert\">{}</div>", esc(message)),
            RefusalStyle::Alert => load_alert(message),
        }
    }

    /// Several refusals at once: a list in an error box, or one `alert()`.
    pub fn refusals(&self, errors: &[String]) -> String {
        if errors.is_empty() {
            return String::new();
        }
        match self.v.refusals {
            RefusalStyle::Inline => {
                let items: String = errors.iter().map(|e| format!("<li>{}</li>", esc(e))).collect();
                format!("<div class=\"error\" role=\"alert\"><ul>{items}</ul></div>")
            }
            RefusalStyle::Alert => load_alert(&errors.join("\n")),
        }
    }

    /// Standing notes that use the words an outcome check may look for. They
    /// stand on the page before and after every action.
    pub fn notes(&self, page: NotesFor, lockout_after: u32) -> String {
        if !self.v.notes {
            return String::new();
        }
        let lock = format!("※パスワードを{lockout_after}回連続で誤るとアカウントがロックされます。");
        let lines: Vec<&str> = match page {
            NotesFor::Login => vec![
                &lock,
                "※入力内容が正しくありませんとログインできません。",
                "※ログインに失敗した場合はエラーメッセージを確認してください。",
            ],
            NotesFor::PasswordChange => vec![
                "※パスワード変更が完了するまで、他の機能は利用できません。",
                "※入力内容に誤りがある場合はエラーとなり、パスワードは変更されません。",
                "※現在のパスワードと同じ、または正しくありませんと表示された場合は別のパスワードを入力してください。",
            ],
            NotesFor::Register => vec![
                "※登録が完了すると、初期パスワードが表示されます。",
                "※入力内容に誤りがあると登録に失敗します。エラー内容を確認して再度登録してください。",
                "※ユーザIDが正しくありませんと表示された場合は、半角英数字で入力してください。",
            ],
            NotesFor::Upload => vec![
                "※登録完了後、アカウント一括登録結果画面で登録状況を確認してください。",
                "※ファイル形式に誤りがある場合、登録失敗（エラー）となります。",
            ],
            NotesFor::Search => vec![
                "※アカウントロックが「あり」のアカウントは、パスワード初期化によりロックが解除されます。",
                "※検索条件に誤りがある場合はエラーとなります。",
                "※登録完了後のアカウントは、検索結果に表示されます。",
            ],
            NotesFor::Results => vec![
                "※登録状況が「登録完了」になるまでお待ちください。",
                "※登録失敗の場合は、「結果」欄からエラー内容を確認してください。",
            ],
            NotesFor::Certificate => vec![
                "※リクエストIDまたはリファレンスIDが正しくありませんと表示された場合は、「電子証明書取得に関する情報」を確認してください。",
                "※ダウンロードに失敗した場合はエラー内容を確認し、再度入力してください。",
            ],
        };
        let mut html = String::from("<div class=\"note standing\">");
        for line in lines {
            let _ = write!(html, "<p>{}</p>", esc(line));
        }
        html.push_str("</div>");
        html
    }

    fn framed(&self) -> bool {
        self.v.frames != Frames::None
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
            ButtonStyle::Script => format!(
                r#"<a href="javascript:void(0)" class="btn" onclick="submitForm(this)" {attrs}>{l}</a>"#
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
            ButtonStyle::Script => {
                format!(r#"<a href="javascript:void(0)" class="btn" onclick="{s}" {attrs}>{l}</a>"#)
            }
        }
    }

    /// A button that goes to `href`. In frames, the menu replaces the whole window.
    pub fn go(&self, label: &str, href: &str) -> String {
        let top = self.framed() && href == MENU;
        match self.v.buttons {
            ButtonStyle::Link => format!(
                r#"<a href="{}" class="btn" role="button"{}>{}</a>"#,
                esc(href),
                if top { " target=\"_top\"" } else { "" },
                esc(label)
            ),
            _ if top => self.action(label, &format!("top.location.href={}", js(href)), ""),
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
            LabelStyle::Div => {
                format!(
                    r#"<div class="row"><div class="cell-l">{mark}{label}</div><div class="cell-v">{control}</div></div>"#
                )
            }
            LabelStyle::Text => format!(r#"<div class="line">{mark}{label}：{control}</div>"#),
        }
    }

    /// Wraps fields made by `field` in the element their style needs.
    pub fn fields(&self, inner: &str) -> String {
        match self.v.labels {
            LabelStyle::Label => format!(r#"<div class="fields">{inner}</div>"#),
            LabelStyle::Th => format!(r#"<table class="form">{inner}</table>"#),
            LabelStyle::Div => format!(r#"<div class="grid">{inner}</div>"#),
            LabelStyle::Text => format!(r#"<div class="lines">{inner}</div>"#),
        }
    }

    /// A read-only value with its label, as detail screens show them.
    pub fn shown(&self, label: &str, value: &str) -> String {
        self.shown_line(&[(label, value)])
    }

    /// Read-only values that belong together; as plain text they share one
    /// line, as in the manual's 「機関コード：… 医療機関名：…」.
    pub fn shown_line(&self, pairs: &[(&str, &str)]) -> String {
        let mut html = String::new();
        if self.v.labels == LabelStyle::Text {
            let line: Vec<String> = pairs
                .iter()
                .map(|(l, v)| format!("{}：{}", esc(&self.t(l)), esc(v)))
                .collect();
            let _ = write!(html, "<p class=\"line\">{}</p>", line.join("\u{3000}"));
            return html;
        }
        for (label, value) in pairs {
            let label = esc(&self.t(label));
            let value = esc(value);
            let _ = match self.v.labels {
                LabelStyle::Label => write!(
                    html,
                    r#"<div class="field"><span class="label">{label}</span><span class="value">{value}</span></div>"#
                ),
                LabelStyle::Th => write!(html, r#"<tr><th>{label}</th><td>{value}</td></tr>"#),
                LabelStyle::Div | LabelStyle::Text => write!(
                    html,
                    r#"<div class="row"><div class="cell-l">{label}</div><div class="cell-v">{value}</div></div>"#
                ),
            };
        }
        html
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
            .map(|h| {
                let window = if self.framed() && h == MENU { "top." } else { "" };
                format!("{window}location.href={}", js(h))
            })
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

/// An `alert()` as the page loads.
fn load_alert(text: &str) -> String {
    format!(
        "<script>window.addEventListener('load',function(){{alert({});}});</script>",
        js(text)
    )
}

pub struct Header<'a> {
    pub institution: &'a str,
    pub who: &'a str,
}

/// Where a page stands when the system runs in frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Placement {
    /// A window of its own: the top bar, with the header when logged in.
    #[default]
    Window,
    /// The content frame: no top bar; the header is elsewhere.
    Content,
    /// The menu frame: the header sits on top of the menu, and ログアウト
    /// replaces the whole window.
    MenuFrame,
}

pub struct Page<'a> {
    pub title: &'a str,
    pub header: Option<Header<'a>>,
    pub csrf: &'a str,
    pub logout_confirm: ConfirmStyle,
    pub body: String,
    pub head: &'a str,
    pub placement: Placement,
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
.grid .row{display:flex;align-items:center;margin:6px 0}
.grid .cell-l{min-width:11em;font-weight:bold}
.lines .line{margin:6px 0}
.standing{border-top:1px dashed #c9d3e0;margin-top:12px}
.menu-frame .topbar{flex-wrap:wrap}
.menu-frame .menu{display:block}
main:has(> .frames){max-width:none;margin:0;padding:0;border:0}
.frames{display:flex;height:calc(100vh - 90px)}
.frames iframe{border:0;height:100%}
.frames iframe[name=menu]{width:300px;border-right:1px solid #c9d3e0}
.frames iframe[name=main]{flex:1}
"#;

/// Every page's script; `SLOW`, written before it, is `slow_clicks`.
const SCRIPT: &str = r#"
// What a click sets off: at once, or from a timer on a slow page.
function later(f){ if(SLOW){setTimeout(f,300);}else{f();} }
if(SLOW){document.addEventListener('mousedown',function(){var t=Date.now();while(Date.now()-t<400){}},true);}
function askModal(f){
  var m=document.getElementById(f.dataset.confirmModal); m.hidden=false;
  m.querySelector('[data-ok]').onclick=function(ev){ev.preventDefault();m.hidden=true;later(function(){f.dataset.confirmed='1';f.submit();});};
  m.querySelector('[data-cancel]').onclick=function(ev){ev.preventDefault();m.hidden=true;};
}
document.addEventListener('submit',function(e){
  var f=e.target; var kind=f.dataset.confirm;
  // The submission a slow page sends again from its timer goes through.
  if(f.dataset.deferred){delete f.dataset.deferred;return;}
  if(kind&&!f.dataset.confirmed){
    if(kind==='js'){ if(!window.confirm(f.dataset.confirmMessage)){e.preventDefault();return;} }
    else { e.preventDefault(); askModal(f); return; }
  }
  if(SLOW){ e.preventDefault(); var by=e.submitter; later(function(){f.dataset.deferred='1';f.requestSubmit(by||undefined);}); }
});
// form.submit() fires no submit event: a script link asks for itself.
function submitForm(el){
  var f=el.closest('form'); var kind=f.dataset.confirm;
  if(!kind||f.dataset.confirmed){later(function(){f.submit();});return;}
  if(kind==='js'){ if(window.confirm(f.dataset.confirmMessage)){later(function(){f.submit();});} return; }
  askModal(f);
}
document.addEventListener('click',function(e){
  var d=e.target.closest('[data-dismiss]'); if(d){e.preventDefault();d.closest('.modal-backdrop').hidden=true;return;}
  var r=e.target.closest('tr.row');
  if(r){r.parentNode.querySelectorAll('tr.row.selected').forEach(function(x){x.classList.remove('selected');});r.classList.add('selected');}
});
document.addEventListener('dblclick',function(e){
  var r=e.target.closest('tr.row'); if(r&&r.dataset.href){later(function(){location.href=r.dataset.href;});}
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
        let body_class = match self.placement {
            Placement::MenuFrame => " class=\"menu-frame\"",
            _ => "",
        };
        let mut html = format!(
            "<!DOCTYPE html><html lang=\"ja\"><head><meta charset=\"utf-8\"><title>{} | オンライン資格確認等システム</title><style>{STYLE}</style>{}</head><body{body_class}>",
            esc(self.title),
            self.head
        );
        if self.placement != Placement::Content {
            html.push_str("<div class=\"topbar\"><div class=\"system\">オンライン資格確認等システム</div>");
            if let Some(h) = &self.header {
                let (attrs, modal) = ui.confirm(
                    self.logout_confirm,
                    "modal-logout",
                    "ログアウト",
                    "ログアウトします。",
                );
                let target = match self.placement {
                    Placement::MenuFrame => " target=\"_top\"",
                    _ => "",
                };
                let _ = write!(
                    html,
                    "<div class=\"who\"><div class=\"institution\">{}</div><div class=\"user\">{}</div></div><form method=\"post\" action=\"/oqs/logout\"{target} {attrs}><input type=\"hidden\" name=\"_csrf\" value=\"{}\">{}</form>{modal}",
                    esc(h.institution),
                    esc(h.who),
                    esc(self.csrf),
                    ui.submit("ログアウト", "")
                );
            }
            html.push_str("</div>");
        }
        let _ = write!(
            html,
            "<div class=\"screen-title\">{}</div><main>",
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
        let _ = write!(
            html,
            "</main><script>var SLOW={};{SCRIPT}</script></body></html>",
            ui.v.slow_clicks
        );
        html
    }
}
