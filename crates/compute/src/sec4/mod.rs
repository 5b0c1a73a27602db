//! §4 kinds that compute: one C-ODE column per init scale (`sec4.dominant_column`).

pub mod dominant_column;
