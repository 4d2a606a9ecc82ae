//! Distributed traces over OTLP: with `OTEL_EXPORTER_OTLP_ENDPOINT` set, `tracing` spans at info
//! and above are exported (OTLP over HTTP with protobuf, batched on a background thread), and a
//! candidate's trace context (a W3C `traceparent`) travels with it through the store, so the
//! workers that run its variants continue the trace of the request that posted it (ADR 0013).
//! Without the variable nothing is installed: no exporter, no thread, no context to carry.

use std::time::Duration;

use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The variable that turns exporting on (the OpenTelemetry SDKs' standard one).
pub const ENDPOINT_VAR: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// Why the exporter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter refused its configuration (e.g. an endpoint that is not a URL).
    #[error("cannot set up the OTLP exporter: {0}")]
    Exporter(String),
}

/// The installed exporter; dropping it flushes the spans still queued (bounded by a timeout).
pub struct Exporting {
    provider: SdkTracerProvider,
    service: &'static str,
}

impl Exporting {
    /// A `tracing` layer that turns spans into OpenTelemetry spans of this exporter.
    pub fn layer<S>(&self) -> tracing_opentelemetry::OpenTelemetryLayer<S, opentelemetry_sdk::trace::Tracer>
    where
        S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
    {
        tracing_opentelemetry::layer().with_tracer(self.provider.tracer(self.service))
    }
}

impl Drop for Exporting {
    fn drop(&mut self) {
        // Spans of the last seconds are still in the batch: send them before the process ends.
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown_with_timeout(Duration::from_secs(5));
    }
}

/// Sets up OTLP/HTTP export of spans for `service` (`farm-server`, `farm-worker`) when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set; `Ok(None)` when it is not.
pub fn exporting(service: &'static str) -> Result<Option<Exporting>, TelemetryError> {
    if std::env::var_os(ENDPOINT_VAR).is_none_or(|v| v.is_empty()) {
        return Ok(None);
    }
    use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
        .with_http_client(UreqClient::new())
        .build()
        .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
    let resource = opentelemetry_sdk::Resource::builder().with_service_name(service).build();
    let provider = SdkTracerProvider::builder().with_resource(resource).with_batch_exporter(exporter).build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(Some(Exporting { provider, service }))
}

/// The W3C `traceparent` of `span`'s trace context, to store with what continues elsewhere;
/// `None` when nothing is exported (the span has no OpenTelemetry context).
pub fn traceparent_of(span: &tracing::Span) -> Option<String> {
    let context = span.context();
    let mut carrier = Traceparent(None);
    TraceContextPropagator::new().inject_context(&context, &mut carrier);
    carrier.0
}

/// Makes `span` (not yet entered) a child of the trace context in `traceparent`, so its trace
/// continues one started in another process. Nothing happens without a valid `traceparent` or
/// without an exporter.
pub fn continue_trace(span: &tracing::Span, traceparent: Option<&str>) {
    let Some(value) = traceparent else { return };
    let parent = TraceContextPropagator::new().extract(&Traceparent(Some(value.to_owned())));
    let _ = span.set_parent(parent);
}

/// A carrier holding just the `traceparent` header (the trace context the farm keeps; no baggage).
struct Traceparent(Option<String>);

impl Injector for Traceparent {
    fn set(&mut self, key: &str, value: String) {
        if key == "traceparent" {
            self.0 = Some(value);
        }
    }
}

impl Extractor for Traceparent {
    fn get(&self, key: &str) -> Option<&str> {
        (key == "traceparent").then_some(self.0.as_deref()).flatten()
    }

    fn keys(&self) -> Vec<&str> {
        vec!["traceparent"]
    }
}

/// The exporter's HTTP client: ureq (already the farm's client), blocking, which is what the batch
/// processor's own thread wants (it has no async runtime), with a bounded timeout.
#[derive(Debug)]
struct UreqClient {
    agent: ureq::Agent,
}

impl UreqClient {
    fn new() -> Self {
        Self { agent: ureq::AgentBuilder::new().timeout(Duration::from_secs(10)).build() }
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for UreqClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let (parts, body) = request.into_parts();
        let mut call = self.agent.request(parts.method.as_str(), &parts.uri.to_string());
        for (name, value) in &parts.headers {
            if let Ok(value) = value.to_str() {
                call = call.set(name.as_str(), value);
            }
        }
        let (status, bytes) = match call.send_bytes(&body) {
            Ok(response) => read(response)?,
            // A collector's 4xx/5xx is an answer, not a transport failure: the exporter judges it.
            Err(ureq::Error::Status(_, response)) => read(response)?,
            Err(e) => return Err(Box::new(e)),
        };
        Ok(http::Response::builder().status(status).body(bytes::Bytes::from(bytes))?)
    }
}

/// A response's status and body (at most 1 MiB: a collector's answer is small).
fn read(response: ureq::Response) -> Result<(u16, Vec<u8>), opentelemetry_http::HttpError> {
    let status = response.status();
    let mut body = Vec::new();
    std::io::Read::read_to_end(&mut std::io::Read::take(response.into_reader(), 1 << 20), &mut body)?;
    Ok((status, body))
}
