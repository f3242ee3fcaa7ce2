//! `crossleak._native`: the steps of a partitioned detection run
//! (`crossleak::pipeline::engine`) for Python, over the rows of Arrow record batches.
//!
//! Python hands each batch over as `(columns, rows)`: `columns` a list of
//! `(name, kind, values)`, `kind` one of `str`, `f64`, `i64`, `u64` or `date` (days since
//! 1970-01-01) and `values` a list with `None` for nulls; `rows` each row's 1-based number in
//! the catalog table. Partition results, the survey, the fit and the plan cross as JSON
//! strings. `python/crossleak/spark.py` drives these steps with Spark's `mapInArrow`.
#![forbid(unsafe_code)]

use std::path::{Path, PathBuf};

use crossleak::ingest::{PartitionRows, TableKind};
use crossleak::pipeline::engine::{Fitted, MatchPlan, Matched, Sample, SampleScores, Survey};
use crossleak::pipeline::{Config, Detector};
use crossleak::{FittedHome, HomeSpec, InputPaths};
use polars::prelude::{Column, DataFrame, DataType};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

/// A crossleak error as a Python `ValueError` with its message.
fn py_err(e: impl std::fmt::Display) -> PyErr {
    PyValueError::new_err(e.to_string())
}

fn to_json<T: serde::Serialize>(value: &T) -> PyResult<String> {
    serde_json::to_string(value).map_err(py_err)
}

fn from_json<T: serde::de::DeserializeOwned>(what: &str, json: &str) -> PyResult<T> {
    serde_json::from_str(json).map_err(|e| py_err(format!("{what}: {e}")))
}

/// The spec of a run's home side, as JSON: the home files, the columns and parameters of the
/// config file `config` (TOML or JSON; defaults when `None`) and their digest.
#[pyfunction]
#[pyo3(signature = (sales, products, config=None))]
fn home_spec(sales: &str, products: &str, config: Option<&str>) -> PyResult<String> {
    let config = match config {
        Some(path) => Config::load(Path::new(path)).map_err(py_err)?,
        None => Config::default(),
    };
    let paths = InputPaths {
        sales: sales.into(),
        products: products.into(),
        catalog: PathBuf::new(),
    };
    let spec = HomeSpec::new(&paths, &config.columns, &config.params).map_err(py_err)?;
    to_json(&spec)
}

/// The home side of a run, fitted from a spec and local copies of its files: what each
/// worker holds, and what the driver fits and finishes with.
#[pyclass(frozen)]
struct Home {
    spec: HomeSpec,
    detector: Detector,
    home: FittedHome,
    /// The catalog table as named in the report.
    catalog: PathBuf,
}

#[pymethods]
impl Home {
    /// Fits the home side of `spec` (JSON) from `sales` and `products`, copies that must give
    /// the spec's digest; `catalog` names the catalog table in the report. `driver`: the whole
    /// home side (sales, onsets, index), which the driver steps need; otherwise the products
    /// and their index only, which is all a worker's steps need.
    #[new]
    #[pyo3(signature = (spec, sales, products, catalog, driver=true))]
    fn new(spec: &str, sales: &str, products: &str, catalog: &str, driver: bool) -> PyResult<Home> {
        let spec: HomeSpec = from_json("home spec", spec)?;
        let detector = spec.detector().map_err(py_err)?;
        let (sales, products) = (Path::new(sales), Path::new(products));
        let home = if driver {
            spec.fit(sales, products)
        } else {
            spec.fit_matching(sales, products)
        }
        .map_err(py_err)?;
        Ok(Home {
            spec,
            detector,
            home,
            catalog: catalog.into(),
        })
    }

    /// The spec's digest.
    #[getter]
    fn digest(&self) -> String {
        self.spec.digest.clone()
    }

    /// The listings' id column as the catalog file names it.
    #[getter]
    fn id_column(&self) -> String {
        self.spec
            .columns
            .catalog
            .get("listing_id")
            .cloned()
            .unwrap_or_else(|| "listing_id".into())
    }

    /// Pass 0 of one partition: validates and surveys every batch of `batches`; the
    /// partition's survey as JSON.
    fn survey(&self, batches: &Bound<'_, PyAny>) -> PyResult<String> {
        let mut survey = Survey::new(&self.home);
        for batch in batches.try_iter()? {
            let accepted = self.accept(&batch?)?;
            let (rows_read, catalog) = accepted;
            survey
                .add(&catalog.catalog, 0..catalog.catalog.len())
                .map_err(py_err)?;
            survey.record_read(&self.catalog, rows_read, catalog.rejected);
        }
        to_json(&survey)
    }

    /// The merged survey of every partition's (JSON each), as JSON.
    fn merge_surveys(&self, parts: Vec<String>) -> PyResult<String> {
        let mut survey = Survey::new(&self.home);
        for part in parts {
            survey
                .merge(from_json("partition survey", &part)?)
                .map_err(py_err)?;
        }
        to_json(&survey)
    }

    /// The fitting sample of a merged survey, as JSON.
    fn sample(&self, survey: &str) -> PyResult<String> {
        let survey: Survey = from_json("survey", survey)?;
        to_json(&self.detector.sample(&survey))
    }

    /// Pass 1 of one partition: its listings in `sample` (JSON) scored; JSON.
    fn sample_scores(&self, sample: &str, batches: &Bound<'_, PyAny>) -> PyResult<String> {
        let sample: Sample = from_json("sample", sample)?;
        let mut scores = SampleScores::default();
        for batch in batches.try_iter()? {
            let (_, accepted) = self.accept(&batch?)?;
            let c = &accepted.catalog;
            let part = SampleScores::of(&self.home, sample, c, 0..c.len()).map_err(py_err)?;
            scores.merge(part);
        }
        to_json(&scores)
    }

    /// The driver's fit from the merged survey and every partition's pass 1 (JSON each); the
    /// fit as JSON.
    fn fit(&self, survey: &str, parts: Vec<String>) -> PyResult<String> {
        let survey: Survey = from_json("survey", survey)?;
        let parts = parts
            .iter()
            .map(|p| from_json("pass 1 scores", p))
            .collect::<PyResult<Vec<SampleScores>>>()?;
        let fitted = self
            .detector
            .fit_sample(&self.home, &survey, parts)
            .map_err(py_err)?;
        to_json(&fitted)
    }

    /// The plan in a fit (JSON), as JSON: what pass 2 needs.
    fn plan(&self, fitted: &str) -> PyResult<String> {
        let fitted: Fitted = from_json("fit", fitted)?;
        to_json(fitted.plan())
    }

    /// Pass 2 of one partition: its listings outside the sample matched with `plan` (JSON);
    /// the matches as JSON.
    fn matches(&self, plan: &str, batches: &Bound<'_, PyAny>) -> PyResult<String> {
        let plan: MatchPlan = from_json("plan", plan)?;
        let mut matched = Matched::default();
        for batch in batches.try_iter()? {
            let (_, accepted) = self.accept(&batch?)?;
            let c = &accepted.catalog;
            matched.merge(Matched::of(&self.home, &plan, c, 0..c.len()));
        }
        to_json(&matched)
    }

    /// The report from the merged survey, the fit and every partition's matches (JSON each),
    /// written into the folder `out` as `detect` writes it; the run summary as JSON.
    fn finish(
        &self,
        survey: &str,
        fitted: &str,
        parts: Vec<String>,
        out: &str,
    ) -> PyResult<String> {
        let survey: Survey = from_json("survey", survey)?;
        let fitted: Fitted = from_json("fit", fitted)?;
        let parts = parts
            .iter()
            .map(|p| from_json("pass 2 matches", p))
            .collect::<PyResult<Vec<Matched>>>()?;
        let report = self
            .detector
            .finish(&self.home, &survey, fitted, parts)
            .map_err(py_err)?;
        report.write(Path::new(out)).map_err(py_err)?;
        to_json(&report.summary)
    }
}

impl Home {
    /// The rows of one batch, validated: rows read and what was accepted.
    fn accept(
        &self,
        batch: &Bound<'_, PyAny>,
    ) -> PyResult<(usize, crossleak::ingest::AcceptedRows)> {
        let (columns, rows): (Vec<BatchColumn<'_>>, Vec<usize>) = batch.extract()?;
        let mut frame_columns = Vec::with_capacity(columns.len());
        for (name, kind, values) in columns {
            frame_columns.push(column(&name, &kind, &values)?);
        }
        let frame = DataFrame::new(rows.len(), frame_columns).map_err(py_err)?;
        let accepted = PartitionRows {
            kind: TableKind::Catalog,
            columns: &self.spec.columns.catalog,
            name: &self.catalog,
            frame,
            numbers: &rows,
        }
        .accept()
        .map_err(py_err)?;
        Ok((rows.len(), accepted))
    }
}

/// One column of a batch as Python hands it over: name, kind and values.
type BatchColumn<'py> = (String, String, Bound<'py, PyAny>);

/// One column of a batch as a polars column.
fn column(name: &str, kind: &str, values: &Bound<'_, PyAny>) -> PyResult<Column> {
    let name = name.into();
    Ok(match kind {
        "str" => Column::new(name, values.extract::<Vec<Option<String>>>()?),
        "f64" => Column::new(name, values.extract::<Vec<Option<f64>>>()?),
        "i64" => Column::new(name, values.extract::<Vec<Option<i64>>>()?),
        "u64" => Column::new(name, values.extract::<Vec<Option<u64>>>()?),
        "date" => Column::new(name, values.extract::<Vec<Option<i32>>>()?)
            .cast(&DataType::Date)
            .map_err(py_err)?,
        other => {
            return Err(py_err(format!(
                "catalog column `{name}`: unsupported kind {other} (expected str, f64, i64, u64 or date)"
            )))
        }
    })
}

/// The module.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(home_spec, m)?)?;
    m.add_class::<Home>()?;
    Ok(())
}
