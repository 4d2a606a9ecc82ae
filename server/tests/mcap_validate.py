"""Reads a run's MCAP file with the official Python reader (PyPI `mcap`) and validates every message
against its JSON Schema (PyPI `jsonschema`). Run by server/tests/mcap.rs.

    python3 mcap_validate.py FILE.mcap SCHEMA_DIR

SCHEMA_DIR holds the committed schemas: Foxglove's (`foxglove.*.json`, from the npm package
`@foxglove/schemas`) and the farm's own (`scenario_farm.*.json`). Every schema embedded in the file
must be one of them, byte for byte as JSON. Checks: CRCs; JSON message encoding; every message valid
against its schema; messages in log-time order in the file; a message's `timestamp` equal to its
log time. Prints one JSON line (message counts per topic, the summary's statistics and the file's
metadata) and exits 0; exits 1 saying what is wrong; exits 3 naming a missing Python package.
"""

import json
import pathlib
import sys

try:
    from mcap.reader import make_reader
except ImportError:
    print("missing Python package `mcap` (pip install mcap; .ci/run installs it)", file=sys.stderr)
    sys.exit(3)
try:
    import jsonschema
except ImportError:
    print("missing Python package `jsonschema` (pip install jsonschema; .ci/run installs it)", file=sys.stderr)
    sys.exit(3)


def fail(message):
    print(message, file=sys.stderr)
    sys.exit(1)


def main(path, schema_dir):
    committed = {}
    for file in sorted(pathlib.Path(schema_dir).glob("*.json")):
        schema = json.loads(file.read_text())
        committed[schema["title"]] = schema
    with open(path, "rb") as f:
        reader = make_reader(f, validate_crcs=True)
        header = reader.get_header()
        summary = reader.get_summary()
        if summary is None or summary.statistics is None:
            fail("the file has no summary section with statistics")
        validators = {}
        for schema in summary.schemas.values():
            if schema.encoding != "jsonschema":
                fail(f"schema {schema.name}: encoding {schema.encoding!r}, expected 'jsonschema'")
            embedded = json.loads(schema.data)
            if schema.name not in committed:
                fail(f"schema {schema.name} is not one of the committed schemas in {schema_dir}")
            if embedded != committed[schema.name]:
                fail(f"schema {schema.name} embedded in the file differs from the committed one")
            jsonschema.validators.validator_for(embedded).check_schema(embedded)
            validators[schema.id] = jsonschema.validators.validator_for(embedded)(embedded)
        counts = {channel.topic: 0 for channel in summary.channels.values()}
        last_time = -1
        for schema, channel, message in reader.iter_messages(log_time_order=False):
            where = f"{channel.topic} message {message.sequence} at {message.log_time} ns"
            if channel.message_encoding != "json":
                fail(f"{where}: encoding {channel.message_encoding!r}, expected 'json'")
            if schema is None or schema.id not in validators:
                fail(f"{where}: no schema")
            document = json.loads(message.data)
            errors = sorted(validators[schema.id].iter_errors(document), key=lambda e: list(e.path))
            if errors:
                e = errors[0]
                fail(f"{where}: invalid {schema.name} at {list(e.path)}: {e.message}")
            if message.log_time < last_time:
                fail(f"{where}: before the previous message ({last_time} ns): not in log-time order")
            last_time = message.log_time
            stamp = document.get("timestamp")
            if stamp is not None and stamp["sec"] * 1_000_000_000 + stamp["nsec"] != message.log_time:
                fail(f"{where}: timestamp {stamp} is not the log time")
            counts[channel.topic] += 1
        metadata = {m.name: dict(m.metadata) for m in reader.iter_metadata()}
    statistics = summary.statistics
    print(
        json.dumps(
            {
                "library": header.library,
                "counts": counts,
                "message_count": statistics.message_count,
                "channel_count": statistics.channel_count,
                "schema_count": statistics.schema_count,
                "metadata": metadata,
            },
            sort_keys=True,
        )
    )


if __name__ == "__main__":
    if len(sys.argv) != 3:
        fail("usage: mcap_validate.py FILE.mcap SCHEMA_DIR")
    main(sys.argv[1], sys.argv[2])
