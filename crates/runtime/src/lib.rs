//! The local runtime: every pod is a process group supervised by a shim that outlives the server.

pub mod shim {
    /// Entry point of `opendlc shim --dir DIR`. Returns the process exit code.
    pub fn run(_dir: &std::path::Path) -> i32 {
        unimplemented!()
    }
}
