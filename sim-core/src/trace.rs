//! The trace: every tick's ego and actor states, commands, modes and events. It is hashed as it is
//! recorded (the run's digest covers every tick bit for bit), kept in a compact binary form, and
//! exported as JSON for replay.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use autonomy_stack::{Mode, Reason};

/// One actor's identity in a trace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceActor {
    /// Id.
    pub id: String,
    /// Kind (snake_case).
    pub kind: String,
    /// Length, metres.
    pub length: f64,
    /// Width, metres.
    pub width: f64,
}

/// One tick.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TraceTick {
    /// Simulated time at the end of the tick, seconds.
    pub t: f64,
    /// Ego x, y, heading, speed, accel, steer.
    pub ego: [f64; 6],
    /// Commanded accel and steer.
    pub command: [f64; 2],
    /// The stack's mode.
    pub mode: Mode,
    /// Guardrail activations this tick. (No `skip_serializing_if`: the binary form is not
    /// self-describing, so every field is always written.)
    pub events: Vec<Reason>,
    /// Each actor's x, y, heading, speed.
    pub actors: Vec<[f64; 4]>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Trace {
    /// The variant's key.
    pub variant: String,
    /// Tick length, seconds.
    pub dt: f64,
    /// Ego length and width.
    pub ego_size: [f64; 2],
    /// The actors, in index order.
    pub actors: Vec<TraceActor>,
    /// Every tick.
    pub ticks: Vec<TraceTick>,
}

/// Errors reading a binary trace.
#[derive(Debug, thiserror::Error)]
#[error("not a trace: {0}")]
pub struct TraceError(String);

impl Trace {
    /// Compact binary form (postcard).
    pub fn to_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(self).unwrap_or_default()
    }

    /// Reads the binary form.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, TraceError> {
        postcard::from_bytes(bytes).map_err(|e| TraceError(e.to_string()))
    }
}

fn mode_code(m: Mode) -> u8 {
    match m {
        Mode::Nominal => 0,
        Mode::Degraded => 1,
        Mode::Fallback => 2,
    }
}

/// SHA-256 over every tick's state, fed field by field in a fixed little-endian layout.
pub struct Digester(Sha256);

impl Default for Digester {
    fn default() -> Self {
        let mut h = Sha256::new();
        h.update(b"scenario-farm/trace/v1\n");
        Self(h)
    }
}

impl Digester {
    /// Adds one tick.
    pub fn tick(&mut self, t: &TraceTick) {
        let h = &mut self.0;
        h.update(t.t.to_bits().to_le_bytes());
        for v in t.ego.iter().chain(&t.command) {
            h.update(v.to_bits().to_le_bytes());
        }
        h.update([mode_code(t.mode), t.events.len() as u8]);
        for e in &t.events {
            h.update(format!("{e:?}").as_bytes());
        }
        h.update((t.actors.len() as u32).to_le_bytes());
        for a in &t.actors {
            for v in a {
                h.update(v.to_bits().to_le_bytes());
            }
        }
    }

    /// The hex digest.
    pub fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}
