//! The messages the field manual never shows, each with a pool of plausible
//! wordings. The first of each pool is the simulator's own (the wording with no
//! config); `[ui.wordings]` picks another, and a seed draws one per message.
//! Texts the manual shows (「初期パスワードを変更してください。」, 「更新しました。」,
//! 「ログアウトします。」, 登録状況 values, …) are never here: they stay exact.

use crate::config::UiVariants;
use crate::message::Message;
use crate::policy::{self, Violation};

/// Every wording `message` may take; the first is the default.
pub fn pool(message: Message) -> &'static [&'static str] {
    match message {
        Message::LoginRefused => &[
            "ユーザIDまたはパスワードが正しくありません。",
            "ユーザIDまたはパスワードに誤りがあります。",
            "ログインに失敗しました。ユーザID、パスワードを確認してください。",
            "入力されたユーザIDまたはパスワードが違います。",
            "認証に失敗しました。",
        ],
        Message::AccountLocked => &[
            "アカウントがロックされています。上位のアカウントの利用者にロック解除を依頼してください。",
            "このアカウントはロックされているため、ログインできません。",
            "アカウントロック中のためログインできません。管理者に連絡してください。",
            // Some systems never say "locked".
            "ログインできません。アカウントが利用停止状態です。",
        ],
        Message::LockedNow => &[
            "ログインに連続して失敗したため、アカウントがロックされました。",
            "パスワードの誤りが規定回数に達したため、アカウントをロックしました。",
            "ユーザIDまたはパスワードが正しくありません。アカウントがロックされました。",
            // A system that does not tell the attempt locked the account.
            "ログインに失敗しました。",
        ],
        Message::AccountDisabled => &[
            "このアカウントは無効です。",
            "このアカウントは現在利用できません。",
            "無効なアカウントのため、ログインできません。",
            // A system that hides why.
            "ユーザIDまたはパスワードが正しくありません。",
        ],
        Message::LoginFormExpired => &[
            "画面の有効期限が切れました。再度ログインしてください。",
            "一定時間操作がなかったため、画面が無効になりました。再度ログインしてください。",
            "不正な操作が行われました。最初からやり直してください。",
        ],
        Message::SessionTimeout => &[
            "セッションがタイムアウトしました。再度ログインしてください。",
            "一定時間操作が行われなかったため、ログアウトしました。再度ログインしてください。",
            "タイムアウトしました。再度ログインしてください。",
        ],
        Message::NotLoggedIn => &[
            "ログインしていません。システムの利用を始めるからログインしてください。",
            "ログインしてください。",
            "セッション情報が存在しません。再度ログインしてください。",
        ],
        Message::BadTransition => &[
            "不正な画面遷移を検出しました。最初からやり直してください。",
            "不正な操作が行われました。",
            "画面遷移エラーが発生しました。メニューから操作をやり直してください。",
        ],
        Message::NoPermission => &[
            "この機能を利用する権限がありません。",
            "権限がありません。",
            "ご利用のアカウントでは、この画面を表示できません。",
        ],
        Message::LoggedOut => &[
            "ログアウトしました。",
            "ログアウトが完了しました。",
            "正常にログアウトしました。",
        ],
        Message::PasswordEmpty => &[
            "新パスワードを入力してください。",
            "新パスワードが未入力です。",
            "パスワードは必須項目です。",
        ],
        Message::PasswordMismatch => &[
            "新パスワードと新パスワード (確認) が一致しません。",
            "確認用のパスワードが一致しません。",
            "新パスワードと確認用パスワードが異なります。",
        ],
        Message::PasswordLength => &[
            "パスワードは8文字以上20文字以下で設定してください。",
            "パスワードの桁数に誤りがあります。8文字から20文字で入力してください。",
            "パスワードは8桁以上20桁以下で入力してください。",
        ],
        Message::PasswordCharacters => &[
            "使用できない文字（空白、全角文字、指定以外の記号など）が含まれています。",
            "パスワードに使用できない文字が入力されています。",
            "入力された文字は使用できません。半角英数字と指定の記号で入力してください。",
        ],
        Message::PasswordClass => &[
            "パスワードに{name}が含まれていません。数字、英字小文字、英字大文字、特殊文字をそれぞれひとつ以上組み合わせてください。",
            "{name}を1文字以上含めてください。",
            "パスワードの文字種が不足しています（{name}）。",
        ],
        Message::PasswordReused => &[
            "5世代前までのパスワードと同じパスワードは使用できません。",
            "過去に使用したパスワードは使用できません。",
            "以前と同じパスワードは設定できません。",
        ],
        Message::PasswordSimilar => &[
            "5世代前までのパスワードと先頭5文字が同じになる類似のパスワードは使用できません。",
            "過去のパスワードと類似しているため使用できません。",
            "過去5世代のパスワードと先頭5文字が一致しています。",
        ],
        Message::NoSuchAccount => &[
            "指定されたアカウントは存在しません。",
            "該当するアカウントが見つかりません。",
            "アカウント情報の取得に失敗しました。",
        ],
        Message::ResetRefused => &[
            "このアカウントのパスワードは初期化できません。",
            "パスワードの初期化に失敗しました。",
            "対象のアカウントは初期化できません。",
        ],
        Message::RegisterRole => &[
            "権限区分を選択してください。",
            "権限区分が選択されていません。",
            "権限区分は必須です。",
        ],
        Message::RegisterUserId => &[
            "ユーザIDは半角英数字4文字以上20文字以下で入力してください。",
            "ユーザIDの形式に誤りがあります。",
            "ユーザIDは4桁以上20桁以下の半角英数字で入力してください。",
        ],
        Message::RegisterExists => &[
            "入力されたユーザIDは既に登録されています。",
            "このユーザIDは既に使用されています。",
            "ユーザIDが重複しています。",
            "既に存在するユーザIDです。別のユーザIDを入力してください。",
        ],
        Message::RegisterName => &[
            "ユーザ名は1文字以上30文字以下で入力してください。",
            "ユーザ名の入力に誤りがあります。",
            "ユーザ名は30文字以内で入力してください。",
        ],
        Message::RegisterKana => &[
            "ユーザ名(カナ)は全角カタカナで入力してください。",
            "ユーザ名(カナ)に全角カタカナ以外の文字が含まれています。",
            "カナは全角カナで入力してください。",
        ],
        Message::RegisterStartFormat => &[
            "利用開始年月日はyyyy/MM/dd形式で入力してください。",
            "利用開始年月日の形式が正しくありません。",
            "利用開始年月日を正しく入力してください。",
        ],
        Message::RegisterStartPast => &[
            "利用開始年月日には当日以降の日付を指定してください。",
            "利用開始年月日に過去日は指定できません。",
            "利用開始年月日が不正です。",
        ],
        Message::RegisterEndFormat => &[
            "利用終了年月日はyyyy/MM/dd形式で入力してください。",
            "利用終了年月日の形式が正しくありません。",
        ],
        Message::RegisterEndBeforeStart => &[
            "利用終了年月日には利用開始年月日以降の日付を指定してください。",
            "利用終了年月日は利用開始年月日より後の日付を指定してください。",
        ],
        Message::Registered => &[
            "アカウントを登録しました。",
            "登録が完了しました。",
            "アカウントの登録が完了しました。",
        ],
        Message::RegisterDialog => &[
            "登録しました。",
            "アカウントを登録しました。",
            "登録処理が完了しました。",
        ],
        Message::UploadNoFile => &[
            "アカウント一括登録用ファイルを選択してください。",
            "ファイルが選択されていません。",
            "登録するファイルを指定してください。",
        ],
        Message::UploadTooBig => &[
            "ファイルサイズが上限（1MB）を超えています。",
            "ファイルサイズが大きすぎます。",
            "アップロード可能なファイルサイズを超えています。",
        ],
        Message::UploadUnreadable => &[
            "ファイルを読み込めませんでした。",
            "ファイルの読み込みに失敗しました。",
            "ファイルのアップロードに失敗しました。",
        ],
        Message::UploadTooSoon => &[
            "前回のアップロードから1分以上経過していません。1分以上間隔を空けてから再度登録してください。",
            "前回の登録から1分以上経過してから登録してください。",
            "短時間に連続して登録することはできません。しばらく待ってから再度登録してください。",
            // A system that does not say why.
            "登録に失敗しました。時間をおいて再度実行してください。",
        ],
        Message::CertMissingIds => &[
            "リクエスト ID とリファレンス ID を入力してください。",
            "リクエストIDまたはリファレンスIDが未入力です。",
        ],
        Message::CertPasswordFormat => &[
            "証明書パスワードは4桁の半角数字で入力してください。",
            "証明書パスワードの形式に誤りがあります。",
        ],
        Message::CertPasswordMismatch => &[
            "証明書パスワードと証明書パスワード (確認用) が一致しません。",
            "確認用の証明書パスワードが一致しません。",
        ],
        Message::CertUnknown => &[
            "リクエスト ID またはリファレンス ID が正しくありません。",
            "リクエストIDまたはリファレンスIDに誤りがあります。",
            "入力された情報に該当する証明書がありません。",
            "証明書の取得に失敗しました。入力内容を確認してください。",
        ],
        Message::CertExpired => &[
            "ダウンロードサイトの有効期限を過ぎているため、証明書を取得できません。電子証明書の発行を再度申請してください。",
            "ダウンロード期限を過ぎています。",
            "有効期限切れのため、証明書をダウンロードできません。",
        ],
        Message::SystemError => &[
            "システムエラーが発生しました。",
            "システムエラーが発生しました。しばらくしてから再度お試しください。",
            "予期しないエラーが発生しました。",
        ],
    }
}

/// The message as this config words it.
pub fn say(ui: &UiVariants, message: Message) -> &'static str {
    let words = pool(message);
    let index = ui.wordings.get(&message).copied().unwrap_or(0);
    words[index % words.len()]
}

/// A broken password rule as this config words it.
pub fn say_violation(ui: &UiVariants, violation: Violation) -> String {
    match violation {
        Violation::Length => say(ui, Message::PasswordLength).to_string(),
        Violation::Characters => say(ui, Message::PasswordCharacters).to_string(),
        Violation::Missing(name) => say(ui, Message::PasswordClass).replace("{name}", name),
        Violation::Reused => say(ui, Message::PasswordReused).to_string(),
        Violation::Similar => say(ui, Message::PasswordSimilar).to_string(),
    }
}

/// Every rule `candidate` breaks, in the simulator's own wording. `history`
/// holds the account's recent passwords, newest first, the current one included.
pub fn violations(candidate: &str, history: &[String]) -> Vec<String> {
    let ui = UiVariants::default();
    policy::broken_rules(candidate, history)
        .into_iter()
        .map(|v| say_violation(&ui, v))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_pool_has_a_choice_and_shift_jis_forms() {
        for m in Message::ALL {
            assert!(pool(m).len() >= 2, "{m:?}");
            for text in pool(m) {
                let (_, _, bad) = encoding_rs::SHIFT_JIS.encode(text);
                assert!(!bad, "{text} has no Shift-JIS form");
            }
        }
    }

    #[test]
    fn violations_are_worded_in_the_simulators_own_words() {
        let missing = violations("abcdefgh", &[]);
        assert!(missing.iter().any(|m| m.contains("数字が")));
        assert!(missing.iter().any(|m| m.contains("英字大文字が")));
        assert!(violations("Aa1!", &[])[0].contains("8文字以上20文字以下"));
        assert!(
            violations("Aa1!ああaaaa", &[])
                .iter()
                .any(|m| m.contains("使用できない文字"))
        );
        let history = ["Staff123!".to_string()];
        assert!(
            violations("Staff123!", &history)
                .iter()
                .any(|m| m.contains("同じパスワード"))
        );
        assert!(
            violations("Staff456!", &history)
                .iter()
                .any(|m| m.contains("先頭5文字"))
        );
    }

    #[test]
    fn an_index_past_the_pool_wraps() {
        let mut ui = UiVariants::default();
        ui.wordings.insert(Message::LoggedOut, 4);
        assert_eq!(say(&ui, Message::LoggedOut), "ログアウトが完了しました。");
    }
}
