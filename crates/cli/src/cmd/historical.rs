//! `get-historical-features`: a point-in-time correct training set written to Parquet or CSV.

use std::fs::File;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use arrow::record_batch::RecordBatch;
use futures::StreamExt;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use larder::offline::{EntityRows, ParallelParquetWriter, training_set_properties};
use larder::{FeatureSelection, FeatureStore};

use crate::args::HistoricalArgs;

enum Sink {
    /// Both boxed: each writer carries its buffers inline, and they differ in size.
    Parquet(Box<ParallelParquetWriter<File>>),
    Csv(Box<arrow::csv::Writer<Box<dyn Write>>>),
}

impl Sink {
    fn create(output: &str, schema: arrow::datatypes::SchemaRef) -> Result<Self> {
        if output == "-" {
            let out: Box<dyn Write> = Box::new(std::io::BufWriter::new(std::io::stdout()));
            return Ok(Sink::Csv(Box::new(
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out),
            )));
        }
        let file = File::create(output).with_context(|| format!("cannot create {output}"))?;
        if output.to_ascii_lowercase().ends_with(".csv") {
            let out: Box<dyn Write> = Box::new(std::io::BufWriter::new(file));
            Ok(Sink::Csv(Box::new(
                arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(out),
            )))
        } else if output.to_ascii_lowercase().ends_with(".parquet") {
            let props = training_set_properties(&schema);
            Ok(Sink::Parquet(Box::new(ParallelParquetWriter::try_new(
                file, schema, props,
            )?)))
        } else {
            bail!(
                "output `{output}` must end in .parquet or .csv (or be - for CSV on standard output)"
            );
        }
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
    let mut stream = store
        .get_historical_features(
            EntityRows::File(args.entities.clone()),
            &selection,
            args.full_feature_names,
        )
        .await?;
    let mut sink = Sink::create(&args.output, stream.schema.clone())?;
    let bar = progress_bar();
    let mut rows = 0u64;
    while let Some(batch) = stream.batches.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        bar.set_position(rows);
        sink.write(&batch)?;
    }
    sink.close()?;
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
