//! The three entry points splunkd uses: `--scheme`, `--validate-arguments` and a normal run.

use std::io::{Read, Write};

use chrono::{DateTime, Utc};

use super::aws::AwsCollector;
use super::azure::AzureCollector;
use super::checkpoint::Checkpoint;
use super::collect::{collect_all, Budget, RunStats, Window};
use super::config::{CloudConfig, StanzaConfig};
use super::error::ModinputError;
use super::http::{no_proxy_from_env, HttpClient, RetryPolicy};
use super::log;
use super::passwords::fetch_credential;
use super::scheme::scheme_xml;
use super::xml_in::{parse_input, parse_validation, InputDoc};
use super::xml_out::EventWriter;

/// Exit code: success.
pub const EXIT_OK: i32 = 0;
/// Exit code: validation rejected, or a run where some stanza or source failed.
pub const EXIT_FAILED: i32 = 1;
/// Exit code: wrong command line.
pub const EXIT_USAGE: i32 = 2;

/// Dispatch on the command line (without the program name); stdin/stdout are the process's.
pub fn main_with_args(args: &[String]) -> i32 {
    let mut stdin = Vec::new();
    let read = |buf: &mut Vec<u8>| std::io::stdin().lock().read_to_end(buf);
    match args.first().map(String::as_str) {
        Some("--scheme") => {
            let mut out = std::io::stdout().lock();
            match out
                .write_all(scheme_xml().as_bytes())
                .and_then(|_| out.flush())
            {
                Ok(()) => EXIT_OK,
                Err(_) => EXIT_FAILED,
            }
        }
        Some("--validate-arguments") => {
            if let Err(e) = read(&mut stdin) {
                log::error(&format!("cannot read stdin: {e}"));
                return EXIT_FAILED;
            }
            validate_arguments(&stdin, &mut std::io::stdout().lock())
        }
        None => {
            if let Err(e) = read(&mut stdin) {
                log::error(&format!("cannot read stdin: {e}"));
                return EXIT_FAILED;
            }
            run(&stdin, event_sink())
        }
        Some(other) => {
            log::error(&format!(
                "unknown argument `{other}`; expected --scheme, --validate-arguments or no argument"
            ));
            EXIT_USAGE
        }
    }
}

/// Where the event stream goes: stdout, without any user-space buffer in between, so that each
/// event [`EventWriter::write_event`] writes is exactly one `write(2)` — the delivery guarantee
/// of [`super::checkpoint`] counts syscalls. (std's `Stdout` is line-buffered; it happens to
/// pass a buffer ending in a newline straight through, but that is an implementation detail.)
#[cfg(unix)]
fn event_sink() -> Box<dyn Write + Send> {
    use std::os::fd::AsFd;
    match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(std::fs::File::from(fd)),
        Err(e) => {
            log::warn(&format!(
                "cannot duplicate stdout ({e}); writing events through the buffered handle"
            ));
            Box::new(std::io::stdout())
        }
    }
}

#[cfg(not(unix))]
fn event_sink() -> Box<dyn Write + Send> {
    Box::new(std::io::stdout())
}

/// `--validate-arguments`: exit 0 to accept; otherwise `<error><message>…</message></error>`.
pub fn validate_arguments(input: &[u8], out: &mut impl Write) -> i32 {
    let result = parse_validation(input).and_then(|doc| {
        log::register_secret(doc.session_key.expose());
        StanzaConfig::from_stanza(&doc.item)
    });
    match result {
        Ok(_) => EXIT_OK,
        Err(e) => {
            let msg = quick_xml::escape::escape(log::redact(&e.to_string())).into_owned();
            let _ = writeln!(out, "<error><message>{msg}</message></error>");
            let _ = out.flush();
            log::error(&format!("validation failed: {e}"));
            EXIT_FAILED
        }
    }
}

/// A normal run: collect every stanza of the `<input>` document into `out`.
pub fn run(input: &[u8], out: impl Write + Send) -> i32 {
    let doc = match parse_input(input) {
        Ok(d) => d,
        Err(e) => {
            log::error(&e.to_string());
            return EXIT_FAILED;
        }
    };
    log::register_secret(doc.session_key.expose());
    let mut writer = EventWriter::new(out);
    let mut code = EXIT_OK;
    for stanza in &doc.stanzas {
        match run_stanza(&doc, stanza, &mut writer) {
            Ok(stats) => {
                log::info(&format!(
                    "{}: wrote {} events ({} late within the overlap, {} later than the overlap), skipped {} already sent, set aside {} unreadable elements, {} of {} sources failed, {} unfinished (max_run_time), {} accounts failed",
                    stanza.name,
                    stats.written,
                    stats.late_in_overlap,
                    stats.late_beyond_overlap,
                    stats.duplicates_skipped,
                    stats.set_aside,
                    stats.sources_failed,
                    stats.sources,
                    stats.sources_unfinished,
                    stats.accounts_failed
                ));
                if stats.sources_failed > 0 || stats.accounts_failed > 0 {
                    code = EXIT_FAILED;
                }
            }
            Err(e) => {
                log::error(&format!("{}: {e}", stanza.name));
                code = EXIT_FAILED;
                if matches!(e, ModinputError::Output(_)) {
                    return code;
                }
            }
        }
    }
    if let Err(e) = writer.finish() {
        log::error(&e.to_string());
        code = EXIT_FAILED;
    }
    code
}

fn run_stanza(
    doc: &InputDoc,
    stanza: &super::xml_in::Stanza,
    writer: &mut EventWriter<impl Write + Send>,
) -> Result<RunStats, ModinputError> {
    let cfg = StanzaConfig::from_stanza(stanza)?;
    let started = std::time::Instant::now();
    let budget = Budget {
        max_pages: cfg.max_pages,
        deadline: started.checked_add(cfg.max_run_time).unwrap_or(started),
    };
    let retry = RetryPolicy::from_env();
    let splunkd = HttpClient::for_splunkd(cfg.ca_bundle.as_deref(), retry)?;
    refuse_on_search_head_cluster(&splunkd, &doc.server_uri, &doc.session_key)?;
    let secret = match &cfg.credential {
        Some(name) => Some(fetch_credential(
            &splunkd,
            &doc.server_uri,
            &doc.session_key,
            name,
        )?),
        None => None,
    };
    let http = HttpClient::new(
        cfg.proxy.as_deref(),
        cfg.ca_bundle.as_deref(),
        retry,
        no_proxy_from_env().as_deref(),
    )?;
    let now = clock_now();
    let window = Window::new(
        cfg.start_from.resolve(now),
        cfg.overlap,
        cfg.settle_lag,
        cfg.late_window,
        now,
    );
    let mut checkpoint = Checkpoint::open(&doc.checkpoint_dir, &cfg.stanza, window.retention())?;
    match cfg.cloud.clone() {
        CloudConfig::Azure(a) => {
            let mut c = AzureCollector::new(&http, a, secret, &cfg.operations, budget);
            collect_all(
                &mut c,
                &mut checkpoint,
                writer,
                &cfg.stanza,
                &cfg.sourcetype,
                window,
                budget,
                cfg.workers,
            )
        }
        CloudConfig::Aws(a) => {
            let mut c = AwsCollector::new(&http, a, secret, &cfg.operations, budget, cfg.workers);
            collect_all(
                &mut c,
                &mut checkpoint,
                writer,
                &cfg.stanza,
                &cfg.sourcetype,
                window,
                budget,
                cfg.workers,
            )
        }
    }
}

/// Refuse to collect on a search head cluster member (`services/shcluster/member/info`
/// answers 200 only there). Any other answer, or none, means not a member: a WARN if splunkd
/// could not be asked, and collection goes on.
fn refuse_on_search_head_cluster(
    splunkd: &HttpClient,
    server_uri: &str,
    session_key: &super::secret::Secret,
) -> Result<(), ModinputError> {
    if server_uri.is_empty() {
        return Ok(());
    }
    let url = format!(
        "{}/services/shcluster/member/info?output_mode=json",
        server_uri.trim_end_matches('/')
    );
    let req = super::http::HttpRequest::get(url)
        .header("Authorization", &format!("Splunk {}", session_key.expose()));
    match splunkd.send_once("splunkd search head cluster membership", req) {
        Ok(r) if r.status == 200 => Err(ModinputError::SearchHeadCluster),
        Ok(_) => Ok(()),
        Err(e) => {
            log::warn(&format!(
                "{e}; assuming this splunkd is not a search head cluster member"
            ));
            Ok(())
        }
    }
}

/// The run's "now": the system clock, or `T1651_MODINPUT_NOW` (an RFC 3339 instant; internal
/// knob for tests that replay hours of late-arriving events in seconds, and for diagnosis).
fn clock_now() -> DateTime<Utc> {
    std::env::var("T1651_MODINPUT_NOW")
        .ok()
        .and_then(|v| DateTime::parse_from_rfc3339(v.trim()).ok())
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or_else(Utc::now)
}
