//! `get-historical-features`: a point-in-time correct training set written to Parquet or CSV.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use larder::offline::{EntityRows, ParallelParquetWriter, training_set_properties};
use larder::{FeatureSelection, FeatureStore};

use crate::args::HistoricalArgs;

/// What the training set is written as, from the output's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Parquet,
    Csv,
}

impl Format {
    fn of(output: &str) -> Result<Self> {
        let lower = output.to_ascii_lowercase();
        if output == "-" || lower.ends_with(".csv") {
            Ok(Format::Csv)
        } else if lower.ends_with(".parquet") {
            Ok(Format::Parquet)
        } else {
            bail!(
                "output `{output}` must end in .parquet or .csv (or be - for CSV on standard output)"
            )
        }
    }
}

/// The output file, written under a temporary name beside it and renamed into place once complete:
/// a retrieval that fails leaves no partial training set, and an earlier file of that name as it
/// was. It is created before the retrieval starts, so a path that cannot be written fails at once.
struct OutputFile {
    target: PathBuf,
    partial: PathBuf,
    committed: bool,
}

impl OutputFile {
    fn create(output: &str) -> Result<(Self, File)> {
        let target = PathBuf::from(output);
        let name = target
            .file_name()
            .with_context(|| format!("output `{output}` names no file"))?;
        let mut partial_name = std::ffi::OsString::from(".");
        partial_name.push(name);
        partial_name.push(format!(".{}.partial", std::process::id()));
        let partial = target.with_file_name(partial_name);
        let file = File::create(&partial).with_context(|| {
            format!(
                "cannot create {output} (writing it first as {})",
                partial.display()
            )
        })?;
        let out = OutputFile {
            target,
            partial,
            committed: false,
        };
        Ok((out, file))
    }

    /// Puts the complete file in place of the target.
    fn commit(mut self) -> Result<()> {
        std::fs::rename(&self.partial, &self.target).with_context(|| {
            format!(
                "cannot move the finished {} into place as {}",
                self.partial.display(),
                self.target.display()
            )
        })?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for OutputFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.partial);
        }
    }
}

enum Sink {
    /// Both boxed: each writer carries its buffers inline, and they differ in size.
    Parquet(Box<ParallelParquetWriter<File>>),
    Csv(Box<arrow::csv::Writer<Box<dyn Write>>>),
}

impl Sink {
    /// A writer of `schema`'s batches to `file` (standard output when `None`).
    fn create(
        format: Format,
        file: Option<File>,
        schema: arrow::datatypes::SchemaRef,
    ) -> Result<Self> {
        let out: Box<dyn Write> = match (format, file) {
            (Format::Parquet, Some(file)) => {
                let props = training_set_properties(&schema);
                return Ok(Sink::Parquet(Box::new(ParallelParquetWriter::try_new(
                    file, schema, props,
                )?)));
            }
            (Format::Parquet, None) => bail!("Parquet is written to a file, not standard output"),
            (Format::Csv, Some(file)) => Box::new(std::io::BufWriter::new(file)),
            (Format::Csv, None) => Box::new(std::io::BufWriter::new(std::io::stdout())),
        };
        Ok(Sink::Csv(Box::new(
            arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out),
        )))
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Sink::Parquet(w) => w.write(batch)?,
            Sink::Csv(w) => w.write(batch)?,
        }
        Ok(())
    }

    fn close(self) -> Result<()> {
        match self {
            Sink::Parquet(w) => {
                w.close()?;
            }
            Sink::Csv(w) => {
                (*w).into_inner().flush()?;
            }
        }
        Ok(())
    }
}

pub(crate) async fn run(store: &FeatureStore, args: HistoricalArgs) -> Result<ExitCode> {
    let selection = match (&args.feature_service, args.features.is_empty()) {
        (Some(service), _) => FeatureSelection::Service(service.clone()),
        (None, false) => FeatureSelection::Refs(args.features.clone()),
        (None, true) => {
            bail!("pass features with -f view:feature or a feature service with --feature-service")
        }
    };
    if !args.entities.exists() {
        bail!("entity file {} does not exist", args.entities.display());
    }
    let format = Format::of(&args.output)?;
    let (output, file) = if args.output == "-" {
        (None, None)
    } else {
        let (output, file) = OutputFile::create(&args.output)?;
        (Some(output), Some(file))
    };
    let mut stream = store
        .get_historical_features(
            EntityRows::File(args.entities.clone()),
            &selection,
            args.full_feature_names,
        )
        .await?;
    let mut sink = Sink::create(format, file, stream.schema.clone())?;
    let bar = progress_bar();
    let mut rows = 0u64;
    while let Some(batch) = stream.batches.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        bar.set_position(rows);
        sink.write(&batch)?;
    }
    sink.close()?;
    if let Some(output) = output {
        output.commit()?;
    }
    bar.finish_and_clear();
    if args.output != "-" {
        eprintln!("Wrote {rows} rows to {}", args.output);
    }
    Ok(ExitCode::SUCCESS)
}

fn progress_bar() -> ProgressBar {
    let bar = ProgressBar::no_length();
    if std::io::stderr().is_terminal() {
        bar.set_draw_target(ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {human_pos} rows [{elapsed_precise}]")
                .expect("template"),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
    } else {
        bar.set_draw_target(ProgressDrawTarget::hidden());
    }
    bar
}
