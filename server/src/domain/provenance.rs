//! Which farm built a result: its version and the git commit it was built from (set at build time
//! from `FARM_GIT_SHA`, else from `git rev-parse HEAD`; see `server/build.rs`).

/// The farm's version (Cargo package version).
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The git commit the binary was built from, or `unknown` when the build saw neither the variable
/// nor a git checkout (the build script warns then).
pub const GIT_SHA: &str = env!("FARM_GIT_SHA");

/// `VERSION (GIT_SHA)`, as `farm --version` prints it.
pub const LONG_VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("FARM_GIT_SHA"), ")");
