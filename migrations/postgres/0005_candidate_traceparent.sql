-- The W3C trace context (traceparent) of the request that posted a candidate, when the farm exports
-- traces over OTLP: a worker claiming one of its runs continues that trace (ADR 0013). NULL when
-- traces are not exported.
ALTER TABLE candidates ADD COLUMN traceparent TEXT;
