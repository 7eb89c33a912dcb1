//! The files of `nanobragg ensemble`, all in `-outdir`, each written atomically by the root:
//!
//! * `refined.hkl` — `h k l F`, one line per grid point: the C program's `-hkl` format, so the
//!   refined set renders as it is;
//! * `refined_sigma.hkl` — `h k l F σ(F)`, `nan` where no shot observes the reflection;
//! * `shots.json` — each shot's name, index, loss and own values;
//! * `checkpoint.json` — the state after a cycle (shared values, each shot's own values, the
//!   variable names as a check); `-restart` reads it back exactly (shortest round-trip
//!   decimals).

use std::path::Path;

use nanobragg::io::atomic::write_atomic;
use nanobragg_refine::ensemble::{EnsembleState, ShotRecord};
use serde::{Deserialize, Serialize};

use crate::run::Failure;

/// Name of the checkpoint in `-outdir`.
pub const CHECKPOINT: &str = "checkpoint.json";
/// Name of the refined structure factors in `-outdir`.
pub const REFINED_HKL: &str = "refined.hkl";
/// Name of the refined structure factors with σ in `-outdir`.
pub const SIGMA_HKL: &str = "refined_sigma.hkl";
/// Name of the per-shot results in `-outdir`.
pub const SHOTS_JSON: &str = "shots.json";

/// `checkpoint.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Cycles run.
    pub cycle: usize,
    /// The shared variables' names (a restart must refine the same).
    pub shared_names: Vec<String>,
    /// The shots' own variables' names.
    pub own_names: Vec<String>,
    /// Shared values.
    pub shared: Vec<f64>,
    /// Shots in shot-list order.
    pub shots: Vec<CheckpointShot>,
}

/// One shot of a checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointShot {
    /// Index in the shot list.
    pub index: usize,
    /// Loss at these values.
    pub loss: f64,
    /// Own values.
    pub values: Vec<f64>,
}

impl Checkpoint {
    /// The checkpoint of `state`.
    pub fn of(state: &EnsembleState, shared_names: Vec<String>, own_names: Vec<String>) -> Self {
        let shots = state.shots.iter().map(|s| CheckpointShot { index: s.index, loss: s.loss, values: s.values.clone() }).collect();
        Checkpoint { cycle: state.cycle, shared_names, own_names, shared: state.shared.clone(), shots }
    }

    /// The state it holds.
    pub fn state(&self) -> EnsembleState {
        let shots = self.shots.iter().map(|s| ShotRecord { index: s.index, loss: s.loss, values: s.values.clone(), sigma: vec![f64::NAN; s.values.len()] }).collect();
        EnsembleState { cycle: self.cycle, shared: self.shared.clone(), shots }
    }

    /// Read `path` (`-restart`), refusing one written for other variables.
    pub fn read(path: &Path, shared_names: &[String], own_names: &[String]) -> Result<Self, Failure> {
        let refuse = |what: String| Failure::Runtime(format!("-restart {}: {what}", path.display()));
        let text = std::fs::read_to_string(path).map_err(|e| refuse(e.to_string()))?;
        let c: Checkpoint = serde_json::from_str(&text).map_err(|e| refuse(e.to_string()))?;
        if c.shared_names != shared_names || c.own_names != own_names {
            return Err(refuse("written for other variables (-hkl grid or -refine_shot differ)".into()));
        }
        if c.shared.len() != shared_names.len() || c.shots.iter().any(|s| s.values.len() != own_names.len()) {
            return Err(refuse("its values do not match its variable names".into()));
        }
        Ok(c)
    }

    /// Write it to `path`.
    pub fn write(&self, path: &Path) -> Result<(), Failure> {
        let text = serde_json::to_string(self).map_err(crate::refine::runtime)?;
        write_atomic(path, text.as_bytes()).map_err(crate::refine::runtime)
    }
}

/// `refined.hkl` and `refined_sigma.hkl` for the grid points `hkl`.
pub fn write_hkl(outdir: &Path, hkl: &[[i32; 3]], f: &[f64], sigma: &[f64]) -> Result<(), Failure> {
    let mut plain = String::new();
    let mut with_sigma = String::new();
    for (([h, k, l], v), s) in hkl.iter().zip(f).zip(sigma) {
        plain += &format!("{h} {k} {l} {v}\n");
        with_sigma += &format!("{h} {k} {l} {v} {s}\n");
    }
    write_atomic(&outdir.join(REFINED_HKL), plain.as_bytes()).map_err(crate::refine::runtime)?;
    write_atomic(&outdir.join(SIGMA_HKL), with_sigma.as_bytes()).map_err(crate::refine::runtime)
}

/// `shots.json`: one object per shot, `{"index", "name", "loss", "<variable>": value, …,
/// "sigma_<variable>": σ, …}` (σ with the shared variables held, from the shot's Fisher block;
/// `null` where its information is singular).
pub fn write_shots(outdir: &Path, state: &EnsembleState, names: &[String], own_names: &[String]) -> Result<(), Failure> {
    let rows: Vec<serde_json::Value> = state
        .shots
        .iter()
        .map(|s| {
            let mut row = serde_json::Map::new();
            row.insert("index".into(), s.index.into());
            row.insert("name".into(), names[s.index].clone().into());
            row.insert("loss".into(), s.loss.into());
            for (n, v) in own_names.iter().zip(&s.values) {
                row.insert(n.clone(), (*v).into());
            }
            for (n, v) in own_names.iter().zip(&s.sigma) {
                row.insert(format!("sigma_{n}"), (*v).into());
            }
            serde_json::Value::Object(row)
        })
        .collect();
    let text = serde_json::to_string_pretty(&rows).map_err(crate::refine::runtime)?;
    write_atomic(&outdir.join(SHOTS_JSON), text.as_bytes()).map_err(crate::refine::runtime)
}
