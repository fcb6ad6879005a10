//! `materialize` and `materialize-incremental`, with a progress bar per view on a terminal.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use larder::materialize::PlannedInterval;
use larder::{FeatureStore, LocalEngine, MaterializeProgress, ViewReport};
use larder_core::time::{format_feast_cli, parse_timestamp};

use crate::args::{MaterializeArgs, MaterializeIncrementalArgs};
use crate::output::stdout_is_tty;

pub(crate) async fn materialize(store: &FeatureStore, args: MaterializeArgs) -> Result<ExitCode> {
    let start = parse_timestamp(&args.start).context("START")?;
    let end = parse_timestamp(&args.end).context("END")?;
    let plan = store.plan_materialize(start, end, &args.views).await?;
    println!(
        "Materializing {} feature views from {} to {} into the {} online store.\n",
        plan.len(),
        format_feast_cli(start),
        format_feast_cli(end),
        store.config().require_online_store()?.type_name()
    );
    run(store, plan).await
}

pub(crate) async fn incremental(
    store: &FeatureStore,
    args: MaterializeIncrementalArgs,
) -> Result<ExitCode> {
    let end = parse_timestamp(&args.end).context("END")?;
    let plan = store.plan_materialize_incremental(end, &args.views).await?;
    println!(
        "Materializing {} feature views to {} into the {} online store.\n",
        plan.len(),
        format_feast_cli(end),
        store.config().require_online_store()?.type_name()
    );
    run(store, plan).await
}

async fn run(store: &FeatureStore, plan: Vec<PlannedInterval>) -> Result<ExitCode> {
    let progress = Arc::new(TerminalProgress::new());
    let reports = store
        .run_materialization(plan, &LocalEngine, progress.clone())
        .await;
    progress.finish();
    let reports = reports.context("materialization failed; the registry was not updated for the failed view, so rerunning is safe")?;
    print_summary(&reports);
    Ok(ExitCode::SUCCESS)
}

fn print_summary(reports: &[ViewReport]) {
    let rows: u64 = reports.iter().map(|r| r.rows_written).sum();
    let skipped: u64 = reports.iter().map(|r| r.rows_skipped).sum();
    let secs: f64 = reports.iter().map(|r| r.elapsed.as_secs_f64()).sum();
    let rate = if secs > 0.0 { rows as f64 / secs } else { 0.0 };
    let mut line = format!(
        "Materialized {rows} rows into {} feature views in {secs:.2}s ({rate:.0} rows/s)",
        reports.len()
    );
    if skipped > 0 {
        line.push_str(&format!(
            "; {skipped} rows skipped because the online store held newer values"
        ));
    }
    println!("{line}");
}

/// Progress bars on a terminal; one plain line per view when piped.
struct TerminalProgress {
    tty: bool,
    bars: MultiProgress,
    views: Mutex<HashMap<String, ProgressBar>>,
}

impl TerminalProgress {
    fn new() -> Self {
        let tty = stdout_is_tty();
        let target = if tty {
            ProgressDrawTarget::stdout()
        } else {
            ProgressDrawTarget::hidden()
        };
        TerminalProgress {
            tty,
            bars: MultiProgress::with_draw_target(target),
            views: Mutex::default(),
        }
    }

    fn finish(&self) {
        for bar in self.views.lock().expect("progress bars").values() {
            if !bar.is_finished() {
                bar.abandon();
            }
        }
    }
}

impl MaterializeProgress for TerminalProgress {
    fn view_started(
        &self,
        view: &str,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
        source_rows: Option<u64>,
    ) {
        let bar = self.bars.add(ProgressBar::no_length());
        bar.set_style(
            ProgressStyle::with_template("{prefix:.bold} {spinner} {human_pos} rows written, {per_sec} [{elapsed_precise}] {msg}")
                .expect("valid template"),
        );
        bar.set_prefix(format!("{view}:"));
        if let Some(n) = source_rows {
            bar.set_message(format!("(source has {n} rows)"));
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        if !self.tty {
            println!(
                "{view} from {} to {}:",
                format_feast_cli(start),
                format_feast_cli(end)
            );
        }
        self.views
            .lock()
            .expect("progress bars")
            .insert(view.to_string(), bar);
    }

    fn rows_written(&self, view: &str, written: u64, skipped: u64) {
        if let Some(bar) = self.views.lock().expect("progress bars").get(view) {
            bar.inc(written + skipped);
        }
    }

    fn view_finished(&self, report: &ViewReport) {
        if let Some(bar) = self.views.lock().expect("progress bars").get(&report.view) {
            bar.finish_with_message(format!("done in {:.2}s", report.elapsed.as_secs_f64()));
        }
        if !self.tty {
            println!(
                "  {} rows written, {} skipped in {:.2}s",
                report.rows_written,
                report.rows_skipped,
                report.elapsed.as_secs_f64()
            );
        }
    }
}
