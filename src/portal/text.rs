//! Text folding, for comparing what the portal shows and for text pulled out of
//! PDFs.
//!
//! The portal writes the same label with full-width or half-width brackets,
//! colons, letters and digits from one screen to the next, and spaces it as it
//! likes. [`normalize`] is the one form screen text is compared in: full-width
//! ASCII folded to half-width ([`fold_width`]) and white space dropped.
//! `src/browser/locate.js` folds the same way in the page; a test below keeps
//! its ranges those of [`WIDTH_FOLDS`].
//!
//! A font's ToUnicode map may send an ideograph's glyph to a look-alike code
//! point: a Kangxi radical (⼠ U+2F20 for 士), a CJK radical supplement form, or
//! a CJK compatibility ideograph. The page shows the ordinary character and a
//! person types that one, so comparisons need the unified ideograph.

use std::collections::HashMap;
use std::sync::LazyLock;

/// Ranges of full-width forms, each [`WIDTH_SHIFT`] above its half-width
/// form: full-width ASCII U+FF01..U+FF5E, （ ） ： among them.
pub const WIDTH_FOLDS: &[(char, char)] = &[('\u{FF01}', '\u{FF5E}')];

/// How far a full-width form in [`WIDTH_FOLDS`] lies above its half-width form.
pub const WIDTH_SHIFT: u32 = 0xFEE0;

/// The half-width form of a full-width ASCII character, a space for the
/// ideographic space; any other character as it is.
pub fn fold_width_char(c: char) -> char {
    if c == '\u{3000}' {
        return ' ';
    }
    if WIDTH_FOLDS
        .iter()
        .any(|&(first, last)| (first..=last).contains(&c))
    {
        return char::from_u32(c as u32 - WIDTH_SHIFT).unwrap_or(c);
    }
    c
}

/// Full-width ASCII (digits, letters, symbols) and the ideographic space to
/// half-width. White space stays: the PDF reader splits words on it.
pub fn fold_width(text: &str) -> String {
    text.chars().map(fold_width_char).collect()
}

/// Screen text in the form it is compared in: widths folded, white space dropped.
pub fn normalize(text: &str) -> String {
    text.chars()
        .map(fold_width_char)
        .filter(|c| !c.is_whitespace())
        .collect()
}

/// Runs of consecutive code points and the unified ideographs they fold to.
///
/// Kangxi Radicals and both CJK Compatibility Ideographs blocks: their Unicode
/// (NFKC) decompositions. CJK Radicals Supplement: Unicode's
/// EquivalentUnifiedIdeograph.txt (NFKC maps only two of them). Generated from
/// the Unicode 14 data; code points with no unified equivalent are left out.
const FOLDS: &[(u32, &str)] = &[
    (0x2E81, "厂乛乚乙亻冂𠘨刀刂卜㔾小小兀尣尢𡯂巳幺彑彐忄心扌攵"),
    (
        0x2E9B,
        "旡日月歺母民氵氺灬爫爫丬牛犭王𤴔目示礻𥫗糹纟罓罒㓁冗𦉫羊𦍌𦍋耂肀聿肉𦥑艹艹艹虎衤覀西见角𧢲讠贝𧾷车辶辶辶邑钅長镸长门𨸏阝雨青韦页风飞食𩙿飠饣𩠐马骨鬼鱼鸟卤麦黄黾斉齐歯齿竜龙龜亀龟",
    ),
    (
        0x2F00,
        "一丨丶丿乙亅二亠人儿入八冂冖冫几凵刀力勹匕匚匸十卜卩厂厶又口囗土士夂夊夕大女子宀寸小尢尸屮山巛工己巾干幺广廴廾弋弓彐彡彳心戈戶手支攴文斗斤方无日曰月木欠止歹殳毋比毛氏气水火爪父爻爿片牙牛犬玄玉瓜瓦甘生用田疋疒癶白皮皿目矛矢石示禸禾穴立竹米糸缶网羊羽老而耒耳聿肉臣自至臼舌舛舟艮色艸虍虫血行衣襾見角言谷豆豕豸貝赤走足身車辛辰辵邑酉釆里金長門阜隶隹雨靑非面革韋韭音頁風飛食首香馬骨高髟鬥鬯鬲鬼魚鳥鹵鹿麥麻黃黍黑黹黽鼎鼓鼠鼻齊齒龍龜龠",
    ),
    (
        0xF900,
        "豈更車賈滑串句龜龜契金喇奈懶癩羅蘿螺裸邏樂洛烙珞落酪駱亂卵欄爛蘭鸞嵐濫藍襤拉臘蠟廊朗浪狼郎來冷勞擄櫓爐盧老蘆虜路露魯鷺碌祿綠菉錄鹿論壟弄籠聾牢磊賂雷壘屢樓淚漏累縷陋勒肋凜凌稜綾菱陵讀拏樂諾丹寧怒率異北磻便復不泌數索參塞省葉說殺辰沈拾若掠略亮兩凉梁糧良諒量勵呂女廬旅濾礪閭驪麗黎力曆歷轢年憐戀撚漣煉璉秊練聯輦蓮連鍊列劣咽烈裂說廉念捻殮簾獵令囹寧嶺怜玲瑩羚聆鈴零靈領例禮醴隸惡了僚寮尿料樂燎療蓼遼龍暈阮劉杻柳流溜琉留硫紐類六戮陸倫崙淪輪律慄栗率隆利吏履易李梨泥理痢罹裏裡里離匿溺吝燐璘藺隣鱗麟林淋臨立笠粒狀炙識什茶刺切度拓糖宅洞暴輻行降見廓兀嗀",
    ),
    (0xFA10, "塚"),
    (0xFA12, "晴"),
    (0xFA15, "凞猪益礼神祥福靖精羽"),
    (0xFA20, "蘒"),
    (0xFA22, "諸"),
    (0xFA25, "逸都"),
    (
        0xFA2A,
        "飯飼館鶴郞隷侮僧免勉勤卑喝嘆器塀墨層屮悔慨憎懲敏既暑梅海渚漢煮爫琢碑社祉祈祐祖祝禍禎穀突節練縉繁署者臭艹艹著褐視謁謹賓贈辶逸難響頻恵𤋮舘",
    ),
    (
        0xFA70,
        "並况全侀充冀勇勺喝啕喙嗢塚墳奄奔婢嬨廒廙彩徭惘慎愈憎慠懲戴揄搜摒敖晴朗望杖歹殺流滛滋漢瀞煮瞧爵犯猪瑱甆画瘝瘟益盛直睊着磌窱節类絛練缾者荒華蝹襁覆視調諸請謁諾諭謹變贈輸遲醙鉶陼難靖韛響頋頻鬒龜𢡊𢡄𣏕㮝䀘䀹𥉉𥳐𧻓齃龎",
    ),
    (
        0x2F800,
        "丽丸乁𠄢你侮侻倂偺備僧像㒞𠘺免兔兤具𠔜㒹內再𠕋冗冤仌冬况𩇟凵刃㓟刻剆割剷㔕勇勉勤勺包匆北卉卑博即卽卿卿卿𠨬灰及叟𠭣叫叱吆咞吸呈周咢哶唐啓啣善善喙喫喳嗂圖嘆圗噑噴切壮城埴堍型堲報墬𡓤売壷夆多夢奢𡚨𡛪姬娛娧姘婦㛮㛼嬈嬾嬾𡧈寃寘寧寳𡬘寿将当尢㞁屠屮峀岍𡷤嵃𡷦嵮嵫嵼巡巢㠯巽帨帽幩㡢𢆃㡼庰庳庶廊𪎒廾𢌱𢌱舁弢弢㣇𣊸𦇚形彫㣣徚忍志忹悁㤺㤜悔𢛔惇慈慌慎慌慺憎憲憤憯懞懲懶成戛扝抱拔捐𢬌挽拼捨掃揤𢯱搢揅掩㨮摩摾撝摷㩬敏敬𣀊旣書晉㬙暑㬈㫤冒冕最暜肭䏙朗望朡杞杓𣏃㭉柺枅桒梅𣑭梎栟椔㮝楂榣槪檨𣚣櫛㰘次𣢧歔㱎歲殟殺殻𣪍𡴋𣫺汎𣲼沿泍汧洖派海流浩浸涅𣴞洴港湮㴳滋滇𣻑淹潮𣽞𣾎濆瀹瀞瀛㶖灊災灷炭𠔥煅𤉣熜𤎫爨爵牐𤘈犀犕𤜵𤠔獺王㺬玥㺸㺸瑇瑜瑱璅瓊㼛甤𤰶甾𤲒異𢆟瘐𤾡𤾸𥁄㿼䀈直𥃳𥃲𥄙𥄳眞真真睊䀹瞋䁆䂖𥐝硎碌磌䃣𥘦祖𥚚𥛅福秫䄯穀穊穏𥥼𥪧𥪧竮䈂𥮫篆築䈧𥲀糒䊠糨糣紀𥾆絣䌁緇縂繅䌴𦈨𦉇䍙𦋙罺𦌾羕翺者𦓚𦔣聠𦖨聰𣍟䏕育脃䐋脾媵𦞧𦞵𣎓𣎜舁舄辞䑫芑芋芝劳花芳芽苦𦬼若茝荣莭茣莽菧著荓菊菌菜𦰶𦵫𦳕䔫蓱蓳蔖𧏊蕤𦼬䕝䕡𦾱𧃒䕫虐虜虧虩蚩蚈蜎蛢蝹蜨蝫螆䗗蟡蠁䗹衠衣𧙧裗裞䘵裺㒻𧢮𧥦䚾䛇誠諭變豕𧲨貫賁贛起𧼯𠠄跋趼跰𠣞軔輸𨗒𨗭邔郱鄑𨜮鄛鈸鋗鋘鉼鏹鐕𨯺開䦕閷𨵷䧦雃嶲霣𩅅𩈚䩮䩶韠𩐊䪲𩒖頋頋頩𩖶飢䬳餩馧駂駾䯎𩬰鬒鱀鳽䳎䳭鵧𪃎䳸𪄅𪈎𪊑麻䵖黹黾鼅鼏鼖鼻𪘀",
    ),
];

static FOLD_MAP: LazyLock<HashMap<u32, char>> = LazyLock::new(|| {
    FOLDS
        .iter()
        .flat_map(|(start, targets)| {
            targets
                .chars()
                .enumerate()
                .map(move |(i, c)| (start + i as u32, c))
        })
        .collect()
});

/// Whether `c` lies in a block that [`fold_ideographs`] looks at.
fn in_folded_blocks(c: char) -> bool {
    matches!(c as u32, 0x2E80..=0x2EFF | 0x2F00..=0x2FDF | 0xF900..=0xFAFF | 0x2F800..=0x2FA1F)
}

/// The unified ideograph for a radical or compatibility ideograph; any other
/// character as it is.
pub fn fold_ideograph(c: char) -> char {
    if !in_folded_blocks(c) {
        return c;
    }
    FOLD_MAP.get(&(c as u32)).copied().unwrap_or(c)
}

/// Folds Kangxi radicals, CJK radical supplement forms that have a unified
/// equivalent, and CJK compatibility ideographs to unified ideographs. Nothing
/// else changes: unlike NFKC, full-width letters, kana and symbols are kept.
pub fn fold_ideographs(text: &str) -> String {
    text.chars().map(fold_ideograph).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_width_folds() {
        assert_eq!(fold_width("Ｈ０１２３４５６　ＡＢ"), "H0123456 AB");
        assert_eq!(fold_width("！～"), "!~");
        // Either side of the range, half-width katakana and the full-width yen sign stay.
        assert_eq!(fold_width("\u{FF00}｟ｱ￥"), "\u{FF00}｟ｱ￥");
    }

    #[test]
    fn normalize_folds_widths_and_drops_white_space() {
        assert_eq!(normalize("アカウント管理（登録）"), "アカウント管理(登録)");
        assert_eq!(normalize(" ユーザＩＤ：\u{3000}ａｂ１２\n"), "ユーザID:ab12");
        assert_eq!(normalize("＊必須／ＯＫ"), "*必須/OK");
        assert_eq!(
            normalize("登録完了（一部エラーあり）"),
            "登録完了(一部エラーあり)"
        );
        assert_eq!(normalize("a\u{00A0}b\tc"), "abc");
    }

    #[test]
    fn locate_js_folds_the_same_widths() {
        const LOCATE_JS: &str = include_str!("../browser/locate.js");
        let norm = LOCATE_JS
            .split("function norm(")
            .nth(1)
            .and_then(|rest| rest.split("\n}\n").next())
            .expect("locate.js defines norm()");
        let ranges: String = WIDTH_FOLDS
            .iter()
            .map(|&(first, last)| format!("\\u{:04X}-\\u{:04X}", first as u32, last as u32))
            .collect();
        let fold =
            format!(".replace(/[{ranges}]/g, c => String.fromCharCode(c.charCodeAt(0) - 0x{WIDTH_SHIFT:X}))");
        assert!(
            norm.contains(&fold),
            "norm() in locate.js must fold exactly what WIDTH_FOLDS names:\n{fold}\nnot:\n{norm}"
        );
        // No second table beside it: the one class above is the only fold.
        assert_eq!(norm.matches("\\uFF").count(), 2 * WIDTH_FOLDS.len(), "{norm}");
        let full_width = |c: char| {
            WIDTH_FOLDS
                .iter()
                .any(|&(first, last)| (first..=last).contains(&c))
        };
        assert!(!norm.contains(full_width), "{norm}");
        assert!(norm.contains("\\s"), "norm() must drop white space: {norm}");
    }

    #[test]
    fn kangxi_radicals_fold_to_unified_ideographs() {
        // ⼠ ⼭ ⽉ ⽇ ⽤: what IPAexGothic's ToUnicode gives for 士 山 月 日 用.
        assert_eq!(
            fold_ideographs("富\u{2F20}\u{2F2D}クリニック"),
            "富士山クリニック"
        );
        assert_eq!(fold_ideographs("2021年06\u{2F49}24\u{2F47}"), "2021年06月24日");
        assert_eq!(fold_ideographs("利\u{2F64}環境"), "利用環境");
        assert_eq!(fold_ideograph('\u{2F00}'), '一');
        assert_eq!(fold_ideograph('\u{2FD5}'), '龠');
    }

    #[test]
    fn radicals_supplement_folds_where_unicode_gives_an_equivalent() {
        assert_eq!(fold_ideograph('\u{2E9F}'), '母');
        assert_eq!(fold_ideograph('\u{2ECF}'), '邑');
        assert_eq!(fold_ideograph('\u{2ED6}'), '阝');
        assert_eq!(fold_ideograph('\u{2EF3}'), '龟');
        assert_eq!(
            fold_ideograph('\u{2ED5}'),
            '\u{28E0F}',
            "an equivalent outside the BMP"
        );
        // U+2E80 has no equivalent, U+2E9A is unassigned: both stay.
        assert_eq!(fold_ideograph('\u{2E80}'), '\u{2E80}');
        assert_eq!(fold_ideograph('\u{2E9A}'), '\u{2E9A}');
    }

    #[test]
    fn compatibility_ideographs_fold_to_their_canonical_forms() {
        assert_eq!(fold_ideograph('\u{F900}'), '豈');
        assert_eq!(fold_ideograph('\u{F9DC}'), '隆');
        assert_eq!(fold_ideograph('\u{FA10}'), '塚');
        assert_eq!(fold_ideograph('\u{FAD9}'), '\u{9F8E}');
        assert_eq!(fold_ideograph('\u{2F800}'), '丽');
        assert_eq!(fold_ideograph('\u{2FA1D}'), '\u{2A600}');
        // Unified ideographs inside the compatibility block have no decomposition.
        assert_eq!(fold_ideograph('\u{FA0E}'), '\u{FA0E}');
        assert_eq!(fold_ideograph('\u{FA11}'), '\u{FA11}');
    }

    #[test]
    fn nothing_else_changes() {
        let text = "ＡＢＣ１２３ ｱｲｳ ① ㈱ ﬁ パスワード Pa$s<w>&'d 2021年08月23日";
        assert_eq!(fold_ideographs(text), text);
    }

    #[test]
    fn the_table_covers_whole_blocks_without_overlap() {
        let mut seen = std::collections::HashSet::new();
        for (start, targets) in FOLDS {
            for (i, c) in targets.chars().enumerate() {
                let from = char::from_u32(start + i as u32).expect("a valid code point");
                assert!(in_folded_blocks(from), "{from:?} is outside the folded blocks");
                assert!(seen.insert(from), "{from:?} is listed twice");
                assert!(
                    !in_folded_blocks(c),
                    "{from:?} folds to {c:?}, itself a radical or compatibility form"
                );
            }
        }
        // 214 Kangxi radicals, 114 supplement forms, 460 + 542 compatibility ideographs.
        assert_eq!(seen.len(), 214 + 114 + 460 + 542);
    }
}
