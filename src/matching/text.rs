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
//! use crossleak::matching::text::Normalizer;
//! let n = Normalizer::default();
//! assert_eq!(n.tokens("READY STOCK!!! Susu UHT 0,5 L Termurah"), ["milk", "uht", "500ml"]);
//! assert_eq!(n.tokens("Kabel Data CT-522 hitam"), ["cable", "data", "ct522", "black"]);
//! assert_eq!(n.tokens("Susu UHT 40 x 125 ml"), n.tokens("susu uht 40x125ml"));
//! ```

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::{Arc, OnceLock};

use unicode_normalization::UnicodeNormalization;

use crate::hash::FxHasher;

/// What a token is, used by the matching features.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum TokenKind {
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
pub(crate) fn token_kind(token: &str) -> TokenKind {
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

/// A step over the token list of a title, after tokenisation (see [`NormalizerBuilder`]).
/// Implement it to add your own step (synonyms, a domain lexicon, a brand list).
pub trait TokenFilter: Send + Sync + std::fmt::Debug {
    /// Short name of the step (used by [`Normalizer::steps`] and [`Normalizer::without`]).
    fn name(&self) -> &str;
    /// Transforms the tokens of one title.
    fn apply(&self, tokens: Vec<String>) -> Vec<String>;
}

/// The title normaliser: character steps, a tokeniser and a chain of [`TokenFilter`]s, built
/// with [`Normalizer::builder`] as a text analyser is (`Default` is the standard chain).
///
/// Character steps, in this order: `escapes` (literal `\n`, `\t`, `\r` become spaces),
/// `nfkc` (Unicode NFKC: full-width letters, ligatures), `case_fold`, `decorations` (emoji,
/// symbols and decorative punctuation become spaces; off, each becomes a token of its own).
/// The tokeniser splits on spaces and punctuation, keeps model codes whole (`CT-522` becomes
/// `ct522`), puts each Han character in a token of its own and, with `units`, writes
/// quantities canonically (`0,25 kg` becomes `250g`, `16x250gr` becomes `16x 250g`).
/// Standard filters, in this order: `spam_words`, `stop_words`, `lexicon`, `han_bigrams`.
/// [`CodeParts`] (codes also split at letter/digit borders) is available but not standard:
/// it raises Abt-Buy matching and lowers the bundled world's alert precision (README).
#[derive(Clone)]
pub struct Normalizer {
    nfkc: bool,
    case_fold: bool,
    escapes: bool,
    decorations: bool,
    units: bool,
    filters: Vec<Arc<dyn TokenFilter>>,
}

impl std::fmt::Debug for Normalizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Normalizer")
            .field("steps", &self.steps())
            .finish()
    }
}

impl Default for Normalizer {
    fn default() -> Self {
        Normalizer::builder().standard().build()
    }
}

/// Builds a [`Normalizer`] step by step; [`NormalizerBuilder::standard`] adds every standard
/// step.
#[derive(Clone, Debug, Default)]
pub struct NormalizerBuilder {
    inner: Option<Normalizer>,
}

impl NormalizerBuilder {
    fn with(mut self, f: impl FnOnce(&mut Normalizer)) -> Self {
        let mut n = self.inner.take().unwrap_or(Normalizer {
            nfkc: false,
            case_fold: false,
            escapes: false,
            decorations: false,
            units: false,
            filters: Vec::new(),
        });
        f(&mut n);
        self.inner = Some(n);
        self
    }

    /// Unicode NFKC.
    pub fn nfkc(self) -> Self {
        self.with(|n| n.nfkc = true)
    }

    /// Lower case.
    pub fn case_fold(self) -> Self {
        self.with(|n| n.case_fold = true)
    }

    /// Literal escape sequences (`\n`, `\t`, `\r`) become spaces.
    pub fn escapes(self) -> Self {
        self.with(|n| n.escapes = true)
    }

    /// Emoji, symbols and decorative punctuation become spaces.
    pub fn decorations(self) -> Self {
        self.with(|n| n.decorations = true)
    }

    /// Quantities with units and packs written canonically.
    pub fn units(self) -> Self {
        self.with(|n| n.units = true)
    }

    /// Appends a token filter.
    pub fn filter(self, filter: impl TokenFilter + 'static) -> Self {
        self.with(|n| n.filters.push(Arc::new(filter)))
    }

    /// Every standard step: the character steps, units, and the filters spam words, stop
    /// words, the Indonesian-English lexicon and Han bigrams.
    pub fn standard(self) -> Self {
        self.nfkc()
            .case_fold()
            .escapes()
            .decorations()
            .units()
            .filter(WordList::spam())
            .filter(WordList::stop())
            .filter(Lexicon::standard())
            .filter(HanBigrams)
    }

    /// The normaliser.
    pub fn build(self) -> Normalizer {
        self.with(|_| {}).inner.expect("set by with")
    }
}

impl Normalizer {
    /// A builder with no step (add them, or call [`NormalizerBuilder::standard`]).
    ///
    /// ```
    /// use crossleak::matching::text::{Lexicon, Normalizer};
    /// let n = Normalizer::builder().case_fold().decorations().filter(Lexicon::standard()).build();
    /// assert_eq!(n.tokens("Kaos HITAM ★"), ["tshirt", "black"]);
    /// ```
    pub fn builder() -> NormalizerBuilder {
        NormalizerBuilder::default()
    }

    /// Names of the active steps, in order.
    pub fn steps(&self) -> Vec<String> {
        let chars = [
            ("escapes", self.escapes),
            ("nfkc", self.nfkc),
            ("case_fold", self.case_fold),
            ("decorations", self.decorations),
            ("units", self.units),
        ];
        chars
            .iter()
            .filter(|(_, on)| *on)
            .map(|(n, _)| (*n).to_string())
            .chain(self.filters.iter().map(|f| f.name().to_string()))
            .collect()
    }

    /// The same normaliser without the step named `step` (for ablations); unchanged when no
    /// step has that name.
    pub fn without(&self, step: &str) -> Normalizer {
        let mut n = self.clone();
        match step {
            "escapes" => n.escapes = false,
            "nfkc" => n.nfkc = false,
            "case_fold" => n.case_fold = false,
            "decorations" => n.decorations = false,
            "units" => n.units = false,
            _ => n.filters.retain(|f| f.name() != step),
        }
        n
    }

    /// The text the tokens come from, after the character steps.
    pub fn clean(&self, raw: &str) -> String {
        let unescaped: Cow<str> = if self.escapes && raw.contains('\\') {
            Cow::Owned(
                raw.replace("\\n", " ")
                    .replace("\\t", " ")
                    .replace("\\r", " "),
            )
        } else {
            Cow::Borrowed(raw)
        };
        // ASCII text is its own NFKC form.
        let composed: Cow<str> = if self.nfkc && !unescaped.is_ascii() {
            Cow::Owned(unescaped.nfkc().collect())
        } else {
            unescaped
        };
        let mut out = String::with_capacity(composed.len());
        let mut push = |c: char| {
            if c.is_alphanumeric() || c.is_whitespace() || is_inner_punct(c) || !self.decorations {
                out.push(c);
            } else {
                out.push(' ');
            }
        };
        if self.case_fold {
            for c in composed.chars() {
                if c.is_ascii() {
                    push(c.to_ascii_lowercase());
                } else {
                    c.to_lowercase().for_each(&mut push);
                }
            }
        } else {
            composed.chars().for_each(&mut push);
        }
        out
    }

    /// Canonical tokens of a title, in order.
    pub fn tokens(&self, raw: &str) -> Vec<String> {
        let cleaned = self.clean(raw);
        let mut pieces = split_pieces(&cleaned);
        let mut out: Vec<String> = Vec::with_capacity(pieces.len());
        let mut i = 0;
        while i < pieces.len() {
            let piece = pieces[i].as_str();
            if self.units {
                // Quantity written apart: "500 ml", "0,5 l", "40 x".
                if is_number(piece) && i + 1 < pieces.len() {
                    if let Some(q) = quantity(piece, &pieces[i + 1]) {
                        out.push(q);
                        i += 2;
                        continue;
                    }
                }
                // Written together: "500ml", "0,25kg", packs "16x250gr".
                if let Some(qs) = joined_quantity(piece) {
                    out.extend(qs);
                    i += 1;
                    continue;
                }
            }
            let canonical = if is_number(piece) {
                canonical_number(piece)
            } else {
                None
            };
            out.push(canonical.unwrap_or_else(|| std::mem::take(&mut pieces[i])));
            i += 1;
        }
        for f in &self.filters {
            out = f.apply(out);
        }
        out
    }

    /// The character n-grams of [`Normalizer::char_ngrams`], each as a 64-bit key, without
    /// allocating a string per n-gram: n-grams of up to three characters are packed exactly
    /// (21 bits per character, the top bit marking a title shorter than `n`); longer ones are
    /// hashed to 64 bits, where two distinct n-grams share a key with probability about 2^-64.
    pub(crate) fn char_ngram_keys(tokens: &[String], n: usize) -> Vec<u64> {
        let mut joined: Vec<char> =
            Vec::with_capacity(2 + tokens.iter().map(String::len).sum::<usize>() + tokens.len());
        joined.push(' ');
        for (i, t) in tokens.iter().enumerate() {
            if i > 0 {
                joined.push(' ');
            }
            joined.extend(t.chars());
        }
        joined.push(' ');
        let key = |w: &[char]| -> u64 {
            if n <= 3 {
                w.iter().fold(0u64, |k, &c| (k << 21) | u64::from(c))
            } else {
                let mut h = FxHasher::default();
                for &c in w {
                    h.write_u32(u32::from(c));
                }
                h.finish()
            }
        };
        if joined.len() < n {
            return vec![key(&joined) | 1 << 63];
        }
        joined.windows(n).map(key).collect()
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

fn is_inner_punct(c: char) -> bool {
    matches!(c, '.' | ',' | '-' | '/' | '\'' | '&' | '+')
}

/// A quantity or pack written as one piece: `500ml`, `0,25kg`, `16x250gr` (pack of 16:
/// `16x`, `250g`), `16x` alone.
fn joined_quantity(piece: &str) -> Option<Vec<String>> {
    let split = piece.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))?;
    if split == 0 || !is_number(&piece[..split]) {
        return None;
    }
    let (number, rest) = (&piece[..split], &piece[split..]);
    if let Some(q) = quantity(number, rest) {
        return Some(vec![q]);
    }
    let inner = rest.strip_prefix('x')?;
    let count = quantity(number, "x")?;
    let inner_split = inner.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ','))?;
    let q = quantity(&inner[..inner_split], &inner[inner_split..])?;
    Some(vec![count, q])
}

/// Drops the words of a list, and two-word phrases whose words are harmless alone
/// (`ready stock`).
#[derive(Clone, Debug)]
pub struct WordList {
    name: String,
    words: HashSet<String, BuildHasherDefault<FxHasher>>,
    phrases: Vec<[String; 2]>,
}

impl WordList {
    /// A list named `name` from text with one word per line (`#` starts a comment line).
    pub fn from_lines(name: &str, text: &str) -> WordList {
        WordList {
            name: name.to_string(),
            words: text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty() && !l.starts_with('#'))
                .map(str::to_lowercase)
                .collect(),
            phrases: Vec::new(),
        }
    }

    /// Indonesian and English stop words (`datasets/text/stopwords_*.txt`).
    pub fn stop() -> WordList {
        let text = format!(
            "{}\n{}",
            include_str!("../../datasets/text/stopwords_id.txt"),
            include_str!("../../datasets/text/stopwords_en.txt")
        );
        WordList::from_lines("stop_words", &text)
    }

    /// Marketplace spam words and phrases in both languages (`datasets/text/spam_words.txt`).
    pub fn spam() -> WordList {
        let mut list = WordList::from_lines(
            "spam_words",
            include_str!("../../datasets/text/spam_words.txt"),
        );
        list.phrases = [
            ["ready", "stock"],
            ["ready", "stok"],
            ["free", "ongkir"],
            ["best", "seller"],
            ["bisa", "cod"],
        ]
        .iter()
        .map(|[a, b]| [(*a).to_string(), (*b).to_string()])
        .collect();
        list
    }

    /// Number of single words in the list.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// True when the list has no word.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

impl TokenFilter for WordList {
    fn name(&self) -> &str {
        &self.name
    }

    fn apply(&self, mut tokens: Vec<String>) -> Vec<String> {
        // In place: the tokens kept move to the front, in order.
        let (mut kept, mut r) = (0, 0);
        while r < tokens.len() {
            let phrase = tokens.get(r + 1).is_some_and(|next| {
                self.phrases
                    .iter()
                    .any(|p| tokens[r] == p[0] && *next == p[1])
            });
            if phrase {
                r += 2;
                continue;
            }
            if !self.words.contains(&tokens[r]) {
                tokens.swap(kept, r);
                kept += 1;
            }
            r += 1;
        }
        tokens.truncate(kept);
        tokens
    }
}

/// Maps words of one language to shared concepts (`susu` and `milk` both become `milk`).
#[derive(Clone, Debug)]
pub struct Lexicon {
    map: HashMap<String, String, BuildHasherDefault<FxHasher>>,
}

impl Lexicon {
    /// From tab-separated text: a header line, then `word<TAB>concept[<TAB>...]` per line;
    /// entries whose word or concept holds a space are skipped (tokens are single words).
    pub fn from_tsv(text: &str) -> Lexicon {
        let map = text
            .lines()
            .skip(1)
            .filter_map(|l| {
                let mut cols = l.split('\t');
                let (w, c) = (cols.next()?.trim(), cols.next()?.trim());
                (!w.is_empty() && !c.is_empty() && !w.contains(' ') && !c.contains(' '))
                    .then(|| (w.to_lowercase(), c.to_lowercase()))
            })
            .collect();
        Lexicon { map }
    }

    /// The Indonesian-English product lexicon (`datasets/text/lexicon_id_en.tsv`).
    pub fn standard() -> Lexicon {
        static STANDARD: OnceLock<Lexicon> = OnceLock::new();
        STANDARD
            .get_or_init(|| {
                Lexicon::from_tsv(include_str!("../../datasets/text/lexicon_id_en.tsv"))
            })
            .clone()
    }

    /// The words of the standard lexicon other than `concept` that become it, borrowed (see
    /// [`Lexicon::standard_surfaces`]); empty for a word no entry leads to.
    pub(crate) fn other_spellings(concept: &str) -> &'static [String] {
        type Surfaces = HashMap<String, Vec<String>, BuildHasherDefault<FxHasher>>;
        static SURFACES: OnceLock<Surfaces> = OnceLock::new();
        let surfaces = SURFACES.get_or_init(|| {
            let mut m = Surfaces::default();
            for (word, concept) in Lexicon::standard().entries() {
                if word != concept {
                    m.entry(concept.to_string())
                        .or_default()
                        .push(word.to_string());
                }
            }
            m
        });
        surfaces.get(concept).map_or(&[], Vec::as_slice)
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// The concept of a word, if the lexicon has it.
    pub fn concept(&self, word: &str) -> Option<&str> {
        self.map.get(word).map(String::as_str)
    }

    /// Every `(word, concept)` entry, sorted by word.
    pub fn entries(&self) -> Vec<(&str, &str)> {
        let mut e: Vec<(&str, &str)> = self
            .map
            .iter()
            .map(|(w, c)| (w.as_str(), c.as_str()))
            .collect();
        e.sort_unstable();
        e
    }

    /// True when there is no entry.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }
}

impl TokenFilter for Lexicon {
    fn name(&self) -> &str {
        "lexicon"
    }

    fn apply(&self, mut tokens: Vec<String>) -> Vec<String> {
        for t in &mut tokens {
            if let Some(concept) = self.map.get(t) {
                t.clone_from(concept);
            }
        }
        tokens
    }
}

/// Keeps each model code whole and adds its letter and digit parts of two characters or more
/// after it (`kxtg6700b` also gives `kxtg` and `6700`), so a code written apart still meets.
#[derive(Clone, Copy, Debug)]
pub struct CodeParts;

impl TokenFilter for CodeParts {
    fn name(&self) -> &str {
        "code_parts"
    }

    fn apply(&self, tokens: Vec<String>) -> Vec<String> {
        let mut out = Vec::with_capacity(tokens.len());
        for t in tokens {
            let parts = if token_kind(&t) == TokenKind::ModelCode {
                code_parts(&t)
            } else {
                Vec::new()
            };
            out.push(t);
            out.extend(parts);
        }
        out
    }
}

fn code_parts(code: &str) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = String::new();
    let mut digit = None;
    for c in code.chars() {
        let d = c.is_ascii_digit() || c == '.';
        if digit.is_some_and(|p| p != d) {
            parts.push(std::mem::take(&mut cur));
        }
        digit = Some(d);
        cur.push(c);
    }
    parts.push(cur);
    parts.retain(|p| p.chars().count() >= 2);
    parts
}

/// Replaces each run of Han characters (one token each after tokenisation) by its overlapping
/// character bigrams; a lone character stays (`充电宝` gives `充电`, `电宝`).
#[derive(Clone, Copy, Debug)]
pub struct HanBigrams;

impl TokenFilter for HanBigrams {
    fn name(&self) -> &str {
        "han_bigrams"
    }

    fn apply(&self, tokens: Vec<String>) -> Vec<String> {
        let is_han_token = |t: &str| {
            let mut cs = t.chars();
            cs.next().is_some_and(is_han) && cs.next().is_none()
        };
        let mut out = Vec::with_capacity(tokens.len());
        let mut i = 0;
        while i < tokens.len() {
            let run = tokens[i..].iter().take_while(|t| is_han_token(t)).count();
            match run {
                0 => {
                    out.push(tokens[i].clone());
                    i += 1;
                }
                1 => {
                    out.push(tokens[i].clone());
                    i += 1;
                }
                _ => {
                    for w in tokens[i..i + run].windows(2) {
                        out.push(format!("{}{}", w[0], w[1]));
                    }
                    i += run;
                }
            }
        }
        out
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
        if is_han(c) || !(c.is_alphanumeric() || c.is_whitespace() || is_inner_punct(c)) {
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
        // Packs: "40 x 125 ml" is a pack of 40 (`40x`) of 125 ml.
        "x" => ("x", 1.0),
        _ => return None,
    })
}

pub(crate) fn quantity(number: &str, unit: &str) -> Option<String> {
    let (canon, factor) = unit_of(unit)?;
    let v = parse_number(number)? * factor;
    Some(format!("{}{canon}", format_number(v)))
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
    fn model_codes_stay_whole_and_give_parts() {
        assert_eq!(toks("CT-522"), ["ct522"]);
        assert_eq!(toks("ct522"), ["ct522"]);
        assert_eq!(toks("KX-TG6700B"), ["kxtg6700b"]);
        let parts = Normalizer::builder().standard().filter(CodeParts).build();
        assert_eq!(parts.tokens("KX-TG6700B"), ["kxtg6700b", "kxtg", "6700"]);
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
            ["coffee", "powder"]
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
        assert_eq!(toks("充电宝 20000mAh"), ["充电", "电宝", "20000mah"]);
        assert_eq!(toks("宝 x"), ["宝", "x"]);
    }

    #[test]
    fn packs_and_steps() {
        assert_eq!(toks("16x250gr"), ["16x", "250g"]);
        assert_eq!(toks("16 x 250 gr"), ["16x", "250g"]);
        let n = Normalizer::default();
        assert_eq!(
            n.steps(),
            [
                "escapes",
                "nfkc",
                "case_fold",
                "decorations",
                "units",
                "spam_words",
                "stop_words",
                "lexicon",
                "han_bigrams"
            ]
        );
        // Without decorations an emoji is a token; without case folding case stays.
        assert_eq!(n.without("decorations").tokens("kopi 🔥"), ["coffee", "🔥"]);
        assert_eq!(n.without("case_fold").tokens("KOPI"), ["KOPI"]);
        assert_eq!(n.without("units").tokens("250gr"), ["250gr"]);
        assert_eq!(n.without("nosuchstep").steps().len(), 9);
        // Full-width letters and digits need NFKC.
        assert_eq!(toks("ＣＴ５２２"), ["ct522"]);
        assert_eq!(n.without("nfkc").tokens("ＣＴ５２２").len(), 1);
    }

    #[test]
    fn char_ngrams_pad_and_handle_short_text() {
        let g = Normalizer::char_ngrams(&["ab".to_string()], 3);
        assert_eq!(g, [" ab", "ab "]);
        assert_eq!(Normalizer::char_ngrams(&[], 3), ["  "]);
    }

    #[test]
    fn char_ngram_keys_name_the_same_ngrams() {
        // Keys and n-gram strings must partition the n-grams alike: equal keys exactly where
        // the strings are equal, over short, padded, non-Latin and repeated text.
        let titles = [
            "",
            "a",
            "ab",
            "tas tas tas",
            "kaos polos 100 cotton",
            "充电宝 20000mah 快充",
            "ÄÖÜ äöü straße",
        ];
        let norm = Normalizer::default();
        for n in 2..=6 {
            let mut pairs: Vec<(String, u64)> = Vec::new();
            for t in titles {
                let tokens = norm.tokens(t);
                let grams = Normalizer::char_ngrams(&tokens, n);
                let keys = Normalizer::char_ngram_keys(&tokens, n);
                assert_eq!(grams.len(), keys.len(), "{t:?} n={n}");
                pairs.extend(grams.into_iter().zip(keys));
            }
            for (a, ka) in &pairs {
                for (b, kb) in &pairs {
                    assert_eq!(a == b, ka == kb, "{a:?} {b:?} n={n}");
                }
            }
        }
    }
}
