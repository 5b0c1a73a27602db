//! Generic run kinds shared by §3 and §4: datasets (`data.*`) and training runs (`train.discrete`,
//! `train.flow`) that write a long-format trajectory table and a run summary.

pub mod data;
pub mod discrete;
pub mod flow;
pub mod output;
pub mod spec;
pub mod stop;
pub mod training;

use pipeline::stage::StageKind;

/// The kinds this module implements.
pub fn kinds() -> Vec<Box<dyn StageKind>> {
    vec![
        Box::new(data::Single),
        Box::new(data::Gaussian),
        Box::new(data::Separable),
        Box::new(discrete::TrainDiscrete),
        Box::new(flow::TrainFlow),
    ]
}
