//! Title normalisation for marketplace text.
//!
//! A [`Normalizer`] turns a raw listing title into canonical tokens:
//! Unicode NFKC and case folding; literal escape sequences (`\n`) and decoration removed;
//! quantities with units canonicalised (`500ML`, `0,5 l` and `0.5 liter` all become `500ml`;
//! `1kg` becomes `1000g`); model codes kept whole (`CT-522` and `ct522` both become `ct522`);
//! Indonesian and English stop and spam words dropped (`promo`, `murah`, `ready stock`, `cod`,
//! `termurah`, `original`); Indonesian product words mapped to a shared English concept (`susu`
//! and `milk` both become `milk`). Han characters become one token each.
//!
//! ```
//! use crossleak::text::Normalizer;
//! let n = Normalizer::default();
//! assert_eq!(n.tokens("READY STOCK!!! Susu UHT 0,5 L Termurah"), ["milk", "uht", "500ml"]);
//! assert_eq!(n.tokens("Kabel Data CT-522 hitam"), ["cable", "data", "ct522", "black"]);
//! ```

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use unicode_normalization::UnicodeNormalization;

/// What a token is, used by the matching features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    /// A plain word.
    Word,
    /// A bare number.
    Number,
    /// A canonical quantity with unit, such as `500ml`.
    Quantity,
    /// A code mixing letters and digits, such as `ct522`.
    ModelCode,
}

/// Classifies a canonical token.
pub fn token_kind(token: &str) -> TokenKind {
    let has_digit = token.bytes().any(|b| b.is_ascii_digit());
    if !has_digit {
        return TokenKind::Word;
    }
    if token.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        return TokenKind::Number;
    }
    let split = token
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(token.len());
    if split > 0 && unit_of(&token[split..]).is_some_and(|(canon, _)| canon == &token[split..]) {
        TokenKind::Quantity
    } else {
        TokenKind::ModelCode
    }
}

/// The title normaliser. All steps are on by default; each can be turned off (for ablations).
#[derive(Clone, Debug)]
pub struct Normalizer {
    /// Canonicalise quantities with units.
    pub units: bool,
    /// Drop stop and spam words.
    pub stop_words: bool,
    /// Map Indonesian product words to shared English concepts.
    pub lexicon: bool,
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer {
            units: true,
            stop_words: true,
            lexicon: true,
        }
    }
}

impl Normalizer {
    /// NFKC, lower case, escapes and decoration removed; the text the tokens come from.
    pub fn clean(&self, raw: &str) -> String {
        let unescaped = raw
            .replace("\\n", " ")
            .replace("\\t", " ")
            .replace("\\r", " ");
        let mut out = String::with_capacity(unescaped.len());
        for c in unescaped.nfkc().flat_map(char::to_lowercase) {
            if c.is_alphanumeric() || matches!(c, '.' | ',' | '-' | '/' | '\'' | '&' | '+') {
                out.push(c);
            } else {
                out.push(' ');
            }
        }
        out
    }

    /// Canonical tokens of a title, in order.
    pub fn tokens(&self, raw: &str) -> Vec<String> {
        let cleaned = self.clean(raw);
        let pieces = split_pieces(&cleaned);
        let mut out: Vec<String> = Vec::with_capacity(pieces.len());
        let mut i = 0;
        while i < pieces.len() {
            let piece = pieces[i].as_str();
            // Quantity written apart: "500 ml", "0,5 l".
            if self.units && is_number(piece) && i + 1 < pieces.len() {
                if let Some(q) = quantity(piece, &pieces[i + 1]) {
                    out.push(q);
                    i += 2;
                    continue;
                }
            }
            // Quantity written together: "500ml", "0,25kg".
            if self.units {
                if let Some(split) =
                    piece.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))
                {
                    if split > 0 && is_number(&piece[..split]) {
                        if let Some(q) = quantity(&piece[..split], &piece[split..]) {
                            out.push(q);
                            i += 1;
                            continue;
                        }
                    }
                }
            }
            let piece = if is_number(piece) {
                canonical_number(piece).unwrap_or_else(|| piece.to_string())
            } else {
                piece.to_string()
            };
            if self.stop_words && is_stop(&piece) {
                i += 1;
                continue;
            }
            let piece = if self.lexicon {
                lexicon()
                    .get(piece.as_str())
                    .map_or(piece, |c| (*c).to_string())
            } else {
                piece
            };
            out.push(piece);
            i += 1;
        }
        if self.stop_words {
            drop_spam_phrases(&mut out);
        }
        out
    }

    /// Character n-grams of the canonical token string, padded with a space on each side.
    pub fn char_ngrams(tokens: &[String], n: usize) -> Vec<String> {
        let joined: Vec<char> = std::iter::once(' ')
            .chain(tokens.join(" ").chars())
            .chain(std::iter::once(' '))
            .collect();
        if joined.len() < n {
            return vec![joined.iter().collect()];
        }
        joined.windows(n).map(|w| w.iter().collect()).collect()
    }
}

/// Splits cleaned text into pieces: runs of letters/digits; a hyphen inside a model code
/// joins its parts (`ct-522`, `kx-tg6700b`; see `joins_code`); decimal separators between digits
/// stay inside numbers; each Han character is its own piece.
fn split_pieces(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut pieces = Vec::new();
    let mut cur = String::new();
    let flush = |cur: &mut String, pieces: &mut Vec<String>| {
        let t = cur.trim_matches(|c: char| c == '.' || c == ',');
        if !t.is_empty() {
            pieces.push(t.to_string());
        }
        cur.clear();
    };
    for (i, &c) in chars.iter().enumerate() {
        let prev = if i > 0 { chars[i - 1] } else { ' ' };
        let next = chars.get(i + 1).copied().unwrap_or(' ');
        if is_han(c) {
            flush(&mut cur, &mut pieces);
            pieces.push(c.to_string());
        } else if c.is_alphanumeric()
            || ((c == '.' || c == ',') && prev.is_ascii_digit() && next.is_ascii_digit())
        {
            cur.push(c);
        } else if c == '-' && joins_code(&cur, &chars[i + 1..]) {
            // Model code joiner: keep going without the hyphen.
        } else if c == '\'' && prev.is_alphabetic() && next.is_alphabetic() {
            // Apostrophes inside words: "men's" -> "mens".
        } else {
            flush(&mut cur, &mut pieces);
        }
    }
    flush(&mut cur, &mut pieces);
    pieces
}

/// True when a hyphen between the piece so far and the run after it is inside a model code:
/// the two runs together hold letters and digits (`ct-522`, `kx-tg6700b`, `dsc-w120`), and it
/// is not a count before a unit (`2-kg`).
fn joins_code(left: &str, rest: &[char]) -> bool {
    let right: Vec<char> = rest
        .iter()
        .take_while(|c| c.is_alphanumeric())
        .copied()
        .collect();
    if left.is_empty() || right.is_empty() || right.iter().any(|c| is_han(*c)) {
        return false;
    }
    let has = |f: fn(&char) -> bool| left.chars().any(|c| f(&c)) || right.iter().any(f);
    let (letters, digits) = (has(|c| c.is_alphabetic()), has(|c| c.is_ascii_digit()));
    let count_before_unit = left
        .chars()
        .all(|c| c.is_ascii_digit() || c == '.' || c == ',')
        && is_unit_start(rest);
    letters && digits && !count_before_unit
}

fn is_unit_start(rest: &[char]) -> bool {
    let word: String = rest.iter().take_while(|c| c.is_alphabetic()).collect();
    unit_of(&word).is_some()
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x4E00..=0x9FFF | 0x3400..=0x4DBF | 0xF900..=0xFAFF)
}

fn is_number(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b == b'.' || b == b',')
        && s.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// Parses a number with `.` or `,` as decimal separator (a lone `,` or `.` followed by three
/// digits is a thousands separator: `20.000` is twenty thousand, as in Indonesian prices).
fn parse_number(s: &str) -> Option<f64> {
    let seps = s.bytes().filter(|b| *b == b'.' || *b == b',').count();
    let normalised = if seps == 0 {
        s.to_string()
    } else if seps == 1 {
        let pos = s.find(['.', ',']).unwrap_or(0);
        let after = s.len() - pos - 1;
        if after == 3 && pos > 0 && s.as_bytes()[pos] == b'.' {
            s.replace('.', "")
        } else {
            s.replace(',', ".")
        }
    } else {
        // Several separators: all but digits after the last one are grouping.
        let last = s.rfind(['.', ',']).unwrap_or(0);
        let (int, frac) = s.split_at(last);
        let int: String = int.chars().filter(char::is_ascii_digit).collect();
        format!("{int}.{}", &frac[1..])
    };
    normalised.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn format_number(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    let s = format!("{rounded:.3}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

fn canonical_number(s: &str) -> Option<String> {
    parse_number(s).map(format_number)
}

/// Unit word -> (canonical unit, factor to it).
fn unit_of(word: &str) -> Option<(&'static str, f64)> {
    Some(match word {
        "g" | "gr" | "grm" | "gram" | "grams" | "gramm" | "gm" => ("g", 1.0),
        "kg" | "kgs" | "kilo" | "kilogram" | "kilograms" => ("g", 1000.0),
        "mg" => ("mg", 1.0),
        "ml" | "mls" | "mili" | "mililiter" | "milliliter" | "millilitre" | "cc" => ("ml", 1.0),
        "l" | "lt" | "ltr" | "liter" | "litre" | "liters" | "litres" => ("ml", 1000.0),
        "mah" => ("mah", 1.0),
        "w" | "watt" | "watts" => ("w", 1.0),
        "v" | "volt" | "volts" => ("v", 1.0),
        "inch" | "inches" | "inci" | "in" => ("inch", 1.0),
        "cm" => ("cm", 1.0),
        "mm" => ("mm", 1.0),
        "m" | "meter" | "metre" => ("cm", 100.0),
        "pcs" | "pc" | "piece" | "pieces" | "biji" | "buah" => ("pcs", 1.0),
        "gb" => ("gb", 1.0),
        "tb" => ("gb", 1024.0),
        "oz" => ("oz", 1.0),
        _ => return None,
    })
}

fn quantity(number: &str, unit: &str) -> Option<String> {
    let (canon, factor) = unit_of(unit)?;
    let v = parse_number(number)? * factor;
    Some(format!("{}{canon}", format_number(v)))
}

fn is_stop(token: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| STOP_AND_SPAM.iter().copied().collect())
        .contains(token)
}

/// Multi-word spam phrases whose words are harmless alone (`ready` in "ready stock").
fn drop_spam_phrases(tokens: &mut Vec<String>) {
    const PHRASES: &[[&str; 2]] = &[
        ["ready", "stock"],
        ["ready", "stok"],
        ["free", "ongkir"],
        ["best", "seller"],
    ];
    let mut out = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        if i + 1 < tokens.len()
            && PHRASES
                .iter()
                .any(|p| tokens[i] == p[0] && tokens[i + 1] == p[1])
        {
            i += 2;
            continue;
        }
        out.push(std::mem::take(&mut tokens[i]));
        i += 1;
    }
    *tokens = out;
}

/// Indonesian and English stop words and marketplace spam words.
const STOP_AND_SPAM: &[&str] = &[
    // Indonesian function words.
    "dan",
    "yang",
    "untuk",
    "dengan",
    "di",
    "ke",
    "dari",
    "ini",
    "itu",
    "atau",
    "juga",
    "pada",
    "utk",
    "dgn",
    "yg",
    "u",
    "n",
    "&",
    "+",
    "isi",
    // English function words.
    "the",
    "and",
    "for",
    "with",
    "of",
    "a",
    "an",
    "to",
    "on",
    "by",
    "new",
    // Marketplace spam.
    "promo",
    "murah",
    "termurah",
    "cod",
    "original",
    "ori",
    "asli",
    "gratis",
    "ongkir",
    "bisa",
    "terlaris",
    "bestseller",
    "baru",
    "terbaru",
    "hot",
    "sale",
    "diskon",
    "discount",
    "obral",
    "grosir",
    "readystock",
    "ready",
    "stock",
    "stok",
    "free",
    "best",
    "seller",
    "official",
    "resmi",
    "bergaransi",
    "garansi",
    "kualitas",
    "berkualitas",
    "premium",
    "import",
    "impor",
    "limited",
    "bonus",
    "hemat",
    "kirim",
    "langsung",
    "cepat",
    "dijamin",
    "real",
    "pict",
    "viral",
    "kekinian",
];

/// Indonesian -> English product lexicon: product nouns, colours, sizes and materials.
const LEXICON: &[(&str, &str)] = &[
    ("susu", "milk"),
    ("kopi", "coffee"),
    ("teh", "tea"),
    ("gula", "sugar"),
    ("garam", "salt"),
    ("minyak", "oil"),
    ("beras", "rice"),
    ("nasi", "rice"),
    ("roti", "bread"),
    ("kue", "cake"),
    ("madu", "honey"),
    ("air", "water"),
    ("jus", "juice"),
    ("coklat", "chocolate"),
    ("cokelat", "chocolate"),
    ("keju", "cheese"),
    ("telur", "egg"),
    ("ayam", "chicken"),
    ("sapi", "beef"),
    ("ikan", "fish"),
    ("udang", "shrimp"),
    ("sambal", "chili"),
    ("cabai", "chili"),
    ("cabe", "chili"),
    ("bawang", "onion"),
    ("pisang", "banana"),
    ("buah", "fruit"),
    ("sayur", "vegetable"),
    ("makanan", "food"),
    ("minuman", "drink"),
    ("kacang", "nut"),
    ("tepung", "flour"),
    ("mie", "noodle"),
    ("bumbu", "spice"),
    ("tas", "bag"),
    ("dompet", "wallet"),
    ("sepatu", "shoes"),
    ("sandal", "sandals"),
    ("sendal", "sandals"),
    ("baju", "shirt"),
    ("kemeja", "shirt"),
    ("kaos", "tshirt"),
    ("kaus", "tshirt"),
    ("celana", "pants"),
    ("rok", "skirt"),
    ("jaket", "jacket"),
    ("topi", "hat"),
    ("kaus kaki", "socks"),
    ("jilbab", "hijab"),
    ("kerudung", "hijab"),
    ("gamis", "dress"),
    ("gaun", "dress"),
    ("jam", "watch"),
    ("tangan", "hand"),
    ("kacamata", "glasses"),
    ("kalung", "necklace"),
    ("cincin", "ring"),
    ("gelang", "bracelet"),
    ("anting", "earrings"),
    ("botol", "bottle"),
    ("gelas", "glass"),
    ("piring", "plate"),
    ("mangkok", "bowl"),
    ("mangkuk", "bowl"),
    ("sendok", "spoon"),
    ("garpu", "fork"),
    ("pisau", "knife"),
    ("panci", "pot"),
    ("wajan", "pan"),
    ("kompor", "stove"),
    ("kulkas", "fridge"),
    ("lemari", "cabinet"),
    ("meja", "table"),
    ("kursi", "chair"),
    ("kasur", "mattress"),
    ("bantal", "pillow"),
    ("selimut", "blanket"),
    ("sprei", "bedsheet"),
    ("handuk", "towel"),
    ("tirai", "curtain"),
    ("gorden", "curtain"),
    ("lampu", "lamp"),
    ("kipas", "fan"),
    ("angin", "wind"),
    ("mesin", "machine"),
    ("kabel", "cable"),
    ("pengisi", "charger"),
    ("casan", "charger"),
    ("baterai", "battery"),
    ("batre", "battery"),
    ("layar", "screen"),
    ("pelindung", "protector"),
    ("sarung", "case"),
    ("tempat", "holder"),
    ("kotak", "box"),
    ("kardus", "box"),
    ("kertas", "paper"),
    ("buku", "book"),
    ("pensil", "pencil"),
    ("pulpen", "pen"),
    ("pena", "pen"),
    ("penghapus", "eraser"),
    ("penggaris", "ruler"),
    ("gunting", "scissors"),
    ("lem", "glue"),
    ("mainan", "toy"),
    ("boneka", "doll"),
    ("bola", "ball"),
    ("sepeda", "bicycle"),
    ("mobil", "car"),
    ("motor", "motorcycle"),
    ("helm", "helmet"),
    ("ban", "tire"),
    ("kunci", "key"),
    ("obeng", "screwdriver"),
    ("palu", "hammer"),
    ("gergaji", "saw"),
    ("bor", "drill"),
    ("sikat", "brush"),
    ("gigi", "tooth"),
    ("sabun", "soap"),
    ("sampo", "shampoo"),
    ("wangi", "fragrance"),
    ("parfum", "perfume"),
    ("minyak wangi", "perfume"),
    ("bedak", "powder"),
    ("lipstik", "lipstick"),
    ("masker", "mask"),
    ("wajah", "face"),
    ("muka", "face"),
    ("rambut", "hair"),
    ("kulit", "skin"),
    ("badan", "body"),
    ("tubuh", "body"),
    ("kuku", "nail"),
    ("popok", "diaper"),
    ("bayi", "baby"),
    ("anak", "kids"),
    ("dewasa", "adult"),
    ("pria", "men"),
    ("laki", "men"),
    ("cowok", "men"),
    ("wanita", "women"),
    ("perempuan", "women"),
    ("cewek", "women"),
    ("kucing", "cat"),
    ("anjing", "dog"),
    ("burung", "bird"),
    ("pakan", "feed"),
    ("obat", "medicine"),
    ("vitamin", "vitamin"),
    ("hitam", "black"),
    ("putih", "white"),
    ("merah", "red"),
    ("biru", "blue"),
    ("hijau", "green"),
    ("kuning", "yellow"),
    ("ungu", "purple"),
    ("abu", "grey"),
    ("abu-abu", "grey"),
    ("coklat muda", "beige"),
    ("emas", "gold"),
    ("perak", "silver"),
    ("merah muda", "pink"),
    ("jingga", "orange"),
    ("oranye", "orange"),
    ("besar", "large"),
    ("kecil", "small"),
    ("sedang", "medium"),
    ("panjang", "long"),
    ("pendek", "short"),
    ("tebal", "thick"),
    ("tipis", "thin"),
    ("kayu", "wood"),
    ("besi", "iron"),
    ("baja", "steel"),
    ("kaca", "glass"),
    ("plastik", "plastic"),
    ("katun", "cotton"),
    ("kulit asli", "leather"),
    ("sutra", "silk"),
    ("wol", "wool"),
    ("karet", "rubber"),
    ("bambu", "bamboo"),
    ("lengan", "sleeve"),
    ("tanpa", "without"),
    ("paket", "package"),
    ("set", "set"),
    ("lusin", "dozen"),
    ("ukuran", "size"),
    ("warna", "color"),
    ("tahan", "resistant"),
    ("anti", "anti"),
    ("tinta", "ink"),
    ("pembersih", "cleaner"),
    ("penutup", "cover"),
    ("sarung tangan", "gloves"),
    ("jepit", "clip"),
    ("cermin", "mirror"),
    ("jarum", "needle"),
    ("benang", "thread"),
    ("kain", "fabric"),
    ("tali", "strap"),
    ("pengering", "dryer"),
    ("setrika", "iron"),
    ("blender", "blender"),
    ("penanak", "cooker"),
    ("kamera", "camera"),
    ("ponsel", "phone"),
    ("hp", "phone"),
    ("telepon", "phone"),
    ("pengeras", "speaker"),
    ("suara", "sound"),
    ("mouse", "mouse"),
    ("papan", "board"),
    ("ketik", "keyboard"),
    ("tikar", "mat"),
    ("karpet", "carpet"),
    ("keset", "doormat"),
    ("ember", "bucket"),
    ("sapu", "broom"),
    ("pel", "mop"),
    ("rak", "rack"),
    ("gantungan", "hanger"),
];

fn lexicon() -> &'static HashMap<&'static str, &'static str> {
    static MAP: OnceLock<HashMap<&'static str, &'static str>> = OnceLock::new();
    MAP.get_or_init(|| {
        LEXICON
            .iter()
            .filter(|(id, _)| !id.contains(' '))
            .copied()
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toks(s: &str) -> Vec<String> {
        Normalizer::default().tokens(s)
    }

    #[test]
    fn units_are_canonical() {
        assert_eq!(toks("250gr"), ["250g"]);
        assert_eq!(toks("250 g"), ["250g"]);
        assert_eq!(toks("0,25 kg"), ["250g"]);
        assert_eq!(toks("500ML"), ["500ml"]);
        assert_eq!(toks("0.5 L"), ["500ml"]);
        assert_eq!(toks("20000mAh"), ["20000mah"]);
        assert_eq!(toks("20.000 mAh"), ["20000mah"]);
    }

    #[test]
    fn model_codes_stay_whole() {
        assert_eq!(toks("CT-522"), ["ct522"]);
        assert_eq!(toks("ct522"), ["ct522"]);
        assert_eq!(toks("KX-TG6700B"), ["kxtg6700b"]);
        assert_eq!(toks("wi-fi 2-kg"), ["wi", "fi", "2000g"]);
        assert_eq!(token_kind("ct522"), TokenKind::ModelCode);
        assert_eq!(token_kind("500ml"), TokenKind::Quantity);
        assert_eq!(token_kind("12"), TokenKind::Number);
        assert_eq!(token_kind("milk"), TokenKind::Word);
    }

    #[test]
    fn spam_and_escapes_go() {
        assert_eq!(
            toks("READY STOCK!!! Kopi\\nBubuk 🔥🔥 BISA COD"),
            ["coffee", "bubuk"]
        );
        assert!(toks("").is_empty());
        assert!(toks("🔥🔥🔥").is_empty());
    }

    #[test]
    fn languages_share_concepts() {
        assert_eq!(
            toks("Tas Hitam"),
            toks("black bag").into_iter().rev().collect::<Vec<_>>()
        );
        assert_eq!(toks("充电宝 20000mAh"), ["充", "电", "宝", "20000mah"]);
    }

    #[test]
    fn char_ngrams_pad_and_handle_short_text() {
        let g = Normalizer::char_ngrams(&["ab".to_string()], 3);
        assert_eq!(g, [" ab", "ab "]);
        assert_eq!(Normalizer::char_ngrams(&[], 3), ["  "]);
    }
}
