//! Reading a file into typed columns: formats, gzip, polars scans, column selection and the
//! errors that name the file.

use super::*;

/// How a logical column is typed.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Text,
    Date,
    Number,
    Hash,
}

pub(super) fn kind_of(logical: &str) -> Kind {
    match logical {
        "date" | "listed_at" => Kind::Date,
        "units" | "revenue" | "price" => Kind::Number,
        "image_phash" => Kind::Hash,
        _ => Kind::Text,
    }
}

impl Kind {
    pub(super) fn expected(self) -> &'static str {
        match self {
            Kind::Text => "string or integer",
            Kind::Date => "date or YYYY-MM-DD string",
            Kind::Number => "number or numeric string",
            Kind::Hash => "16-hex-digit string or integer",
        }
    }
}

/// Reads a delimited text file (plain or gzip-compressed) with every column as text, for
/// files outside the sales and catalog contract: labelled pair files and catalogs to link.
/// `table` names the file in errors; `quote` is the quoting character (`None`: fields are
/// never quoted). Missing file, directory, empty file, header only, compressed data that is
/// not gzip, non-UTF-8 bytes and parser failures all come back as errors naming the file.
pub fn read_text_table(
    path: &Path,
    table: &str,
    delimiter: u8,
    quote: Option<u8>,
) -> Result<DataFrame> {
    if check_file(table, path)? == 0 {
        return Err(empty(table, path));
    }
    let df = guarded(table, path, || {
        let scan = open_csv(table, path, delimiter, quote)?;
        let df = scan
            .frame
            .collect()
            .map_err(|e| polars_failure(table, path, e))?;
        let names: Vec<String> = df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .collect();
        if names.iter().any(|n| n.contains('\u{fffd}')) {
            return Err(not_utf8(table, path, "the header"));
        }
        check_unique_names(table, path, &names)?;
        Ok(df)
    })?;
    if df.height() == 0 {
        return Err(empty(table, path));
    }
    Ok(df)
}

/// The text of column `name` of a table read by [`read_text_table`], blanks as `None`;
/// the column is found ignoring a byte-order mark and surrounding spaces.
pub fn text_column(df: &DataFrame, table: &str, name: &str) -> Result<Vec<Option<String>>> {
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|n| n.to_string())
        .collect();
    let actual = find_column(&names, name).ok_or_else(|| Error::MissingColumn {
        table: table.into(),
        column: name.into(),
        available: names.iter().map(|n| clean_name(n).to_string()).collect(),
    })?;
    let col = df.column(actual)?.cast(&DataType::String)?;
    let ca = col.str()?;
    Ok(ca
        .iter()
        .map(|v| v.map(str::trim).filter(|v| !v.is_empty()).map(String::from))
        .collect())
}

/// File formats, chosen by extension.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Format {
    Csv,
    CsvGz,
    Parquet,
}

pub(super) fn format_of(table: &str, path: &Path) -> Result<Format> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_lowercase())
        .unwrap_or_default();
    if name.ends_with(".csv") {
        Ok(Format::Csv)
    } else if name.ends_with(".csv.gz") {
        Ok(Format::CsvGz)
    } else if name.ends_with(".parquet") || name.ends_with(".pq") {
        Ok(Format::Parquet)
    } else {
        Err(unreadable(
            table,
            path,
            "unsupported file format (expected .csv, .csv.gz, .parquet or .pq)",
        ))
    }
}

/// One column's values after reading (types normalised by the scan), kept in the scan's own
/// contiguous arrays: nothing is copied per row.
pub(super) enum ColData {
    Str(StringChunked),
    Num(Float64Chunked),
    Day(Int32Chunked),
    Int(UInt64Chunked),
    /// Signed 64-bit hashes, which keep their bits.
    SignedInt(Int64Chunked),
}

/// One value, blank strings counting as missing.
pub(super) enum Cell<'a> {
    Missing,
    Str(&'a str),
    Num(f64),
    Day(i32),
    Int(u64),
}

impl ColData {
    pub(super) fn get(&self, i: usize) -> Cell<'_> {
        let cell = match self {
            ColData::Str(v) => v.get(i).map(|s| Cell::Str(s.trim())),
            ColData::Num(v) => v.get(i).map(Cell::Num),
            ColData::Day(v) => v.get(i).map(Cell::Day),
            ColData::Int(v) => v.get(i).map(Cell::Int),
            ColData::SignedInt(v) => v.get(i).map(|x| Cell::Int(x as u64)),
        };
        match cell {
            Some(Cell::Str("")) => Cell::Missing,
            Some(c) => c,
            None => Cell::Missing,
        }
    }
}

/// The mapped columns of one file, or of one chunk of its rows, under their logical names.
pub(super) struct Table {
    pub(super) height: usize,
    pub(super) cols: HashMap<&'static str, ColData>,
    /// The latest date accepted: tomorrow in UTC, so no time zone makes today's rows "future".
    pub(super) latest: Date,
}

impl Table {
    pub(super) fn of_frame(
        df: &DataFrame,
        table: &str,
        used: &[&'static str],
        latest: Date,
    ) -> Result<Table> {
        let mut cols = HashMap::new();
        for &logical in used {
            cols.insert(logical, extract(df, table, logical)?);
        }
        Ok(Table {
            height: df.height(),
            cols,
            latest,
        })
    }

    /// True when every mapped cell of row `i` is missing (a blank line in a CSV).
    pub(super) fn is_blank(&self, i: usize) -> bool {
        self.cols
            .values()
            .all(|c| matches!(c.get(i), Cell::Missing))
    }

    pub(super) fn cell(&self, logical: &str, i: usize) -> Cell<'_> {
        self.cols.get(logical).map_or(Cell::Missing, |c| c.get(i))
    }
}

/// Checks the file and its header and returns the lazy scan of the mapped columns under their
/// logical names, with the logical names used.
pub(super) fn open_table(
    path: &Path,
    kind: TableKind,
    columns: &ColumnMap,
) -> Result<(Scan, Vec<&'static str>)> {
    validate_column_map(kind, columns)?;
    let table = kind.name();
    let len = check_file(table, path)?;
    let format = format_of(table, path)?;
    if len == 0 {
        return Err(empty(table, path));
    }
    guarded(table, path, || scan_selected(path, kind, columns, format))
}

/// Runs `lf` on polars' streaming engine, handing `each` frames of `chunk_rows` rows in order
/// while the next one is read. The first error, from the file or from `each`, stops the run.
pub(super) fn stream_frames(
    table: &str,
    path: &Path,
    lf: LazyFrame,
    chunk_rows: usize,
    mut each: impl FnMut(DataFrame) -> Result<()>,
) -> Result<()> {
    let (send, recv) = sync_channel::<DataFrame>(1);
    // The callback asks polars to stop once the receiving side has gone.
    let sink = PlanCallback::new(move |df: DataFrame| Ok(send.send(df).is_err()));
    let lf = lf
        .sink_batches(sink, true, NonZeroUsize::new(chunk_rows.max(1)))
        .map_err(|e| polars_failure(table, path, e))?;
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || lf.collect_with_engine(Engine::Streaming));
        let mut outcome = Ok(());
        for df in &recv {
            outcome = each(df);
            if outcome.is_err() {
                break;
            }
        }
        drop(recv);
        let read = reader.join();
        outcome?;
        match read {
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(polars_failure(table, path, e)),
            Err(panic) => Err(unreadable(
                table,
                path,
                format!("the reader failed: {}", panic_text(panic.as_ref())),
            )),
        }
    })
}

/// Scans the file lazily, checks the mapped columns against the schema, and selects them under
/// their logical names with normalised types.
pub(super) fn scan_selected(
    path: &Path,
    kind: TableKind,
    columns: &ColumnMap,
    format: Format,
) -> Result<(Scan, Vec<&'static str>)> {
    let table = kind.name();
    let scan = open_scan(table, path, format)?;
    select_columns(path, kind, columns, scan, format != Format::Parquet)
}

/// The mapped columns of `scan` under their logical names, cast to what validation reads,
/// with the logical names used. `text_header`: the header was read from a text file (and
/// must be valid UTF-8).
pub(super) fn select_columns(
    path: &Path,
    kind: TableKind,
    columns: &ColumnMap,
    scan: Scan,
    text_header: bool,
) -> Result<(Scan, Vec<&'static str>)> {
    let table = kind.name();
    let Scan {
        frame: mut lf,
        decompressed,
    } = scan;
    let schema = lf
        .collect_schema()
        .map_err(|e| polars_failure(table, path, e))?;
    let names: Vec<String> = schema.iter_names().map(|n| n.to_string()).collect();
    if text_header && names.iter().any(|n| n.contains('\u{fffd}')) {
        return Err(not_utf8(table, path, "the header"));
    }
    check_unique_names(table, path, &names)?;
    let mut exprs: Vec<Expr> = Vec::new();
    let mut used = Vec::new();
    let logicals = kind
        .required()
        .iter()
        .map(|c| (*c, true))
        .chain(kind.optional().iter().map(|c| (*c, false)))
        // The sales price is part of the contract but not used: it is not read.
        .filter(|(c, _)| !(kind == TableKind::Sales && *c == "price"));
    // Sales may give revenue instead of units.
    let revenue_present = kind == TableKind::Sales
        && find_column(
            &names,
            columns.get("revenue").map_or("revenue", |s| s.as_str()),
        )
        .is_some();
    for (logical, required) in logicals {
        let required = required && !(revenue_present && logical == "units");
        let explicit = columns.get(logical);
        let wanted = explicit.map_or(logical, |s| s.as_str());
        let Some(actual) = find_column(&names, wanted) else {
            if required || explicit.is_some() {
                return Err(Error::MissingColumn {
                    table: table.into(),
                    column: wanted.into(),
                    available: names.iter().map(|n| clean_name(n).to_string()).collect(),
                });
            }
            continue;
        };
        let dtype = schema.get(actual).cloned().unwrap_or(DataType::Null);
        let c = col(actual);
        let lk = kind_of(logical);
        let expr = match (lk, &dtype) {
            (_, DataType::String) => c,
            (_, DataType::Null) => c.cast(DataType::String),
            (Kind::Text, d) if d.is_integer() => c.cast(DataType::String),
            (Kind::Date, DataType::Date) => c.cast(DataType::Int32),
            (Kind::Number, d) if d.is_primitive_numeric() => c.cast(DataType::Float64),
            (Kind::Hash, d) if d.is_unsigned_integer() => c.cast(DataType::UInt64),
            (Kind::Hash, d) if d.is_signed_integer() => c.cast(DataType::Int64),
            (_, d) => {
                return Err(Error::WrongType {
                    table: table.into(),
                    column: clean_name(actual).into(),
                    found: d.to_string(),
                    expected: lk.expected().into(),
                })
            }
        };
        exprs.push(expr.alias(logical));
        used.push(logical);
    }
    let frame = lf.select(exprs);
    Ok((
        Scan {
            frame,
            decompressed,
        },
        used,
    ))
}

/// A lazy scan of an input file, with the decompressed copy it reads when the file is
/// gzip-compressed CSV: the copy must outlive the scan and is removed with it.
pub(super) struct Scan {
    pub(super) frame: LazyFrame,
    pub(super) decompressed: Option<TempFile>,
}

pub(super) fn open_scan(table: &str, path: &Path, format: Format) -> Result<Scan> {
    match format {
        Format::Parquet => {
            let args = ScanArgsParquet {
                glob: false,
                ..Default::default()
            };
            let frame = LazyFrame::scan_parquet(pl_path(table, path)?, args)
                .map_err(|e| polars_failure(table, path, e))?;
            Ok(Scan {
                frame,
                decompressed: None,
            })
        }
        Format::CsvGz | Format::Csv => open_csv(table, path, b',', Some(b'"')),
    }
}

/// Opens a delimited text file lazily, every column as text. Gzip is recognised by its first
/// bytes (whatever the extension) and decompressed to a temporary file that the scan reads as
/// it would the plain file, so memory stays bounded whatever the file's size; other
/// compression is refused.
pub(super) fn open_csv(table: &str, path: &Path, delimiter: u8, quote: Option<u8>) -> Result<Scan> {
    let mut magic = [0u8; 4];
    let n = std::fs::File::open(path)
        .and_then(|f| f.take(4).read(&mut magic))
        .map_err(|e| unreadable(table, path, e.to_string()))?;
    let decompressed = match compression_of(&magic[..n]) {
        Some("gzip") => Some(gunzip(table, path)?),
        Some(other) => {
            return Err(unreadable(
                table,
                path,
                format!(
                    "the file looks {other}-compressed, which is not supported; decompress it first"
                ),
            ))
        }
        None => None,
    };
    let read_from = decompressed.as_ref().map_or(path, |t| t.path());
    // Errors name the user's file, not the temporary copy.
    let frame = text_options(
        LazyCsvReader::new(pl_path(table, read_from)?),
        delimiter,
        quote,
    )
    .finish()
    .map_err(|e| polars_failure(table, path, e))?;
    Ok(Scan {
        frame,
        decompressed,
    })
}

/// Runs a reader, turning a panic inside it (the last resort for malformed files polars
/// does not reject cleanly) into an error naming the file.
pub(super) fn guarded<T>(table: &str, path: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    catch_unwind(AssertUnwindSafe(read)).unwrap_or_else(|panic| {
        Err(unreadable(
            table,
            path,
            format!("the reader failed: {}", panic_text(panic.as_ref())),
        ))
    })
}

pub(super) fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown failure".into())
}

pub(super) fn text_options(
    reader: LazyCsvReader,
    delimiter: u8,
    quote: Option<u8>,
) -> LazyCsvReader {
    reader
        .with_separator(delimiter)
        .with_quote_char(quote)
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_glob(false)
        .with_missing_is_null(true)
}

/// A file in the system's temporary directory (`TMPDIR` on Unix), removed when dropped.
pub(super) type TempFile = tempfile::NamedTempFile;

/// Creates a new, empty temporary file whose name ends in `suffix`.
pub(super) fn temp_file(suffix: &str) -> std::io::Result<TempFile> {
    tempfile::Builder::new()
        .prefix("crossleak-")
        .suffix(suffix)
        .tempfile()
}

/// Decompresses a gzip file (one or more members) to a temporary file, a buffer at a time.
/// Empty output and output that is compressed again are errors naming `path`.
pub(super) fn gunzip(table: &str, path: &Path) -> Result<TempFile> {
    let file = std::fs::File::open(path).map_err(|e| unreadable(table, path, e.to_string()))?;
    let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    let temp = temp_file(".csv").map_err(|e| {
        let dir = std::env::temp_dir();
        let reason = format!(
            "cannot create a file in {} to decompress into: {e}",
            dir.display()
        );
        unreadable(table, path, reason)
    })?;
    let write_failed = |e: std::io::Error| {
        let reason = format!(
            "cannot write the decompressed copy {}: {e}",
            temp.path().display()
        );
        unreadable(table, path, reason)
    };
    let mut out = temp.as_file();
    let mut head = [0u8; 4];
    let mut seen = 0;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match decoder.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(unreadable(table, path, format!("invalid gzip data: {e}"))),
        };
        let take = n.min(head.len() - seen);
        head[seen..seen + take].copy_from_slice(&buf[..take]);
        seen += take;
        // Whole buffers go straight to the file: no second buffer in between.
        out.write_all(&buf[..n]).map_err(write_failed)?;
    }
    if seen == 0 {
        return Err(empty(table, path));
    }
    if let Some(other) = compression_of(&head[..seen]) {
        return Err(unreadable(
            table,
            path,
            format!("the decompressed data looks {other}-compressed again, which is not supported"),
        ));
    }
    Ok(temp)
}

/// The compression polars would detect from the first bytes (it only decodes them with a
/// feature this crate does not enable).
pub(super) fn compression_of(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x1f, 0x8b, _, _, ..] => Some("gzip"),
        [0x78, 0x01 | 0x5e | 0x9c | 0xda, _, _, ..] => Some("zlib"),
        [0x28, 0xb5, 0x2f, 0xfd, ..] => Some("zstd"),
        _ => None,
    }
}

pub(super) fn pl_path(table: &str, path: &Path) -> Result<PlRefPath> {
    PlRefPath::try_from_path(path)
        .map_err(|e| unreadable(table, path, format!("unusable path: {e}")))
}

/// Checks that `path` is a readable regular file; returns its length.
pub(super) fn check_file(table: &str, path: &Path) -> Result<u64> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let reason = if e.kind() == std::io::ErrorKind::NotFound {
            "no such file".to_string()
        } else {
            e.to_string()
        };
        unreadable(table, path, reason)
    })?;
    if meta.is_dir() {
        return Err(unreadable(table, path, "is a directory, not a file"));
    }
    if !meta.is_file() {
        return Err(unreadable(table, path, "not a regular file"));
    }
    std::fs::File::open(path).map_err(|e| unreadable(table, path, e.to_string()))?;
    Ok(meta.len())
}

/// Refuses a header that names a column twice: which of the two was meant cannot be known.
/// The CSV reader renames the second `x` to `x_duplicated_0`; names equal after removing a
/// byte-order mark and spaces count as the same.
pub(super) fn check_unique_names(table: &str, path: &Path, names: &[String]) -> Result<()> {
    let cleaned: Vec<&str> = names.iter().map(|n| clean_name(n)).collect();
    let mut seen = HashSet::new();
    for name in &cleaned {
        let renamed = name
            .rsplit_once("_duplicated_")
            .filter(|(base, n)| {
                !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) && cleaned.contains(base)
            })
            .map(|(base, _)| base);
        if let Some(dup) = renamed.or((!seen.insert(*name)).then_some(*name)) {
            return Err(unreadable(
                table,
                path,
                format!("the header names column `{dup}` twice; rename or remove one of them"),
            ));
        }
    }
    Ok(())
}

/// The file column for `wanted`: an exact match, else one equal after removing a byte-order mark
/// and surrounding spaces (so a BOM or a stray `\r` in the header does not hide a column).
pub(super) fn find_column<'a>(names: &'a [String], wanted: &str) -> Option<&'a str> {
    names
        .iter()
        .find(|n| n.as_str() == wanted)
        .or_else(|| names.iter().find(|n| clean_name(n) == wanted.trim()))
        .map(String::as_str)
}

pub(super) fn clean_name(name: &str) -> &str {
    name.trim_start_matches('\u{feff}').trim()
}

pub(super) fn extract(df: &DataFrame, table: &str, logical: &'static str) -> Result<ColData> {
    let c = df.column(logical)?;
    Ok(match c.dtype() {
        DataType::String => ColData::Str(c.str()?.rechunk().into_owned()),
        DataType::Float64 => ColData::Num(c.f64()?.rechunk().into_owned()),
        DataType::Int32 => ColData::Day(c.i32()?.rechunk().into_owned()),
        DataType::UInt64 => ColData::Int(c.u64()?.rechunk().into_owned()),
        DataType::Int64 => ColData::SignedInt(c.i64()?.rechunk().into_owned()),
        other => {
            return Err(Error::WrongType {
                table: table.into(),
                column: logical.into(),
                found: other.to_string(),
                expected: kind_of(logical).expected().into(),
            })
        }
    })
}

pub(super) fn is_no_data(e: &PolarsError) -> bool {
    match e {
        PolarsError::NoData(_) => true,
        PolarsError::Context { error, .. } | PolarsError::ExprContext { error, .. } => {
            is_no_data(error)
        }
        _ => false,
    }
}

/// Turns a polars failure while scanning into an error naming the table and file.
pub(super) fn polars_failure(table: &str, path: &Path, e: PolarsError) -> Error {
    if is_no_data(&e) {
        return empty(table, path);
    }
    let msg = e.to_string();
    let lower = msg.to_lowercase();
    if lower.contains("utf-8") || lower.contains("utf8") {
        return not_utf8(table, path, "the file");
    }
    unreadable(table, path, msg)
}

/// A non-UTF-8 CSV, located by line when the plain file shows where (error path only).
pub(super) fn not_utf8(table: &str, path: &Path, what: &str) -> Error {
    let place = std::fs::read(path)
        .ok()
        .filter(|bytes| compression_of(bytes).is_none())
        .and_then(|bytes| {
            let err = std::str::from_utf8(&bytes).err()?;
            let at = err.valid_up_to();
            let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
            Some(format!(
                " (first bad byte on line {line}, byte offset {at})"
            ))
        })
        .unwrap_or_default();
    unreadable(
        table,
        path,
        format!("{what} is not valid UTF-8 text{place}; re-save it with UTF-8 encoding"),
    )
}

pub(super) fn unreadable(table: &str, path: &Path, reason: impl Into<String>) -> Error {
    Error::Unreadable {
        table: table.into(),
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

pub(super) fn empty(table: &str, path: &Path) -> Error {
    Error::EmptyTable {
        table: table.into(),
        path: path.to_path_buf(),
    }
}
