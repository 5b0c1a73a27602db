//! Binary (±1, logistic) and 10-class (cross-entropy) tasks on seeded MNIST subsets.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::{Result, VisionError};
use crate::mnist::{Mnist, MnistSplit, PIXELS};

/// The default digit pair of the binary task: 4 (label −1) vs 9 (label +1).
///
/// Why 4 vs 9: the two digits share most of their strokes (the right vertical bar and the left
/// arm), and what separates them is the top of the digit, which is a closed loop of stroke pixels
/// in a 9 and an open gap of background (weak, intensity < 0.1) pixels in a 4. So the class
/// evidence lives both on stroke pixels and on weak pixels, and a Grad-CAM map can legitimately
/// put its mass on either — which is what the weak-pixel share has to be able to detect. 0 vs 1 is
/// separable from a handful of stroke pixels in a few steps, so training ends before any
/// "first / last" ordering is visible; 4 vs 9 is one of the most confused MNIST pairs, so the
/// ordering has many steps to play out.
pub const DEFAULT_PAIR: (u8, u8) = (4, 9);

/// Which loss and labels a task uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskKind {
    /// Two digits, label −1 for `negative` and +1 for `positive`, logistic loss; one output logit.
    Binary {
        /// Digit with label −1.
        negative: u8,
        /// Digit with label +1.
        positive: u8,
    },
    /// All ten digits, softmax cross-entropy; ten output logits.
    TenClass,
}

impl TaskKind {
    /// Number of network outputs: 1 for binary, 10 for ten-class.
    pub fn outputs(self) -> usize {
        match self {
            TaskKind::Binary { .. } => 1,
            TaskKind::TenClass => 10,
        }
    }
}

/// Examples of one split of a task: images in [0, 1] and class targets.
#[derive(Debug, Clone, Default)]
pub struct Examples {
    /// `len * 784` intensities in [0, 1].
    pub images: Vec<f32>,
    /// Class index: 0 / 1 (= label −1 / +1) for binary, the digit for ten-class.
    pub targets: Vec<usize>,
    /// Index of each example in the original MNIST split (for provenance).
    pub source_index: Vec<usize>,
}

impl Examples {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The 784 intensities of example `index`.
    pub fn image(&self, index: usize) -> &[f32] {
        &self.images[index * PIXELS..(index + 1) * PIXELS]
    }

    /// The examples at `indices`, in that order.
    pub fn select(&self, indices: &[usize]) -> Examples {
        let mut out = Examples::default();
        for &index in indices {
            out.images.extend_from_slice(self.image(index));
            out.targets.push(self.targets[index]);
            out.source_index.push(self.source_index[index]);
        }
        out
    }
}

/// A learning task: kind, training subset and test subset.
#[derive(Debug, Clone)]
pub struct Task {
    /// Loss and label convention.
    pub kind: TaskKind,
    /// Training examples.
    pub train: Examples,
    /// Test examples.
    pub test: Examples,
}

impl Mnist {
    /// The binary task `negative` (−1) vs `positive` (+1): a seeded random subset of `n_train`
    /// training and `n_test` test examples of the two digits (`None` = all of them).
    pub fn binary_task(
        &self,
        negative: u8,
        positive: u8,
        n_train: Option<usize>,
        n_test: Option<usize>,
        seed: u64,
    ) -> Result<Task> {
        if negative == positive || negative > 9 || positive > 9 {
            return Err(VisionError::InvalidConfig {
                what: "binary task",
                reason: format!("need two different digits, got {negative} and {positive}"),
            });
        }
        let target = |digit: u8| match digit {
            d if d == negative => Some(0),
            d if d == positive => Some(1),
            _ => None,
        };
        Ok(Task {
            kind: TaskKind::Binary { negative, positive },
            train: subset(&self.train, &target, n_train, seed, "training")?,
            test: subset(&self.test, &target, n_test, seed ^ 0x7e57, "test")?,
        })
    }

    /// The binary task `negative` (−1) vs `positive` (+1) on class-balanced seeded subsets:
    /// `n_train / 2` training and `n_test / 2` test images of each digit (both counts even), in a
    /// seeded random order (so mini-batches mix the classes).
    pub fn balanced_binary_task(
        &self,
        negative: u8,
        positive: u8,
        n_train: usize,
        n_test: usize,
        seed: u64,
    ) -> Result<Task> {
        let pair = self.binary_task(negative, positive, Some(1), Some(1), seed)?;
        if n_train % 2 == 1 || n_test % 2 == 1 {
            return Err(VisionError::InvalidConfig {
                what: "balanced binary task",
                reason: format!(
                    "the numbers of training and test images must be even (half of each digit), \
                     got {n_train} and {n_test}"
                ),
            });
        }
        let half = |digit: u8, n: usize, split: &MnistSplit, seed: u64, which: &str| {
            let only = |d: u8| (d == digit).then_some(0);
            subset(split, &only, Some(n / 2), seed, which)
        };
        let build = |split: &MnistSplit, n: usize, seed: u64, which: &str| -> Result<Examples> {
            let neg = half(negative, n, split, seed, which)?;
            let pos = half(positive, n, split, seed ^ 0x9e37, which)?;
            let mut order: Vec<(usize, usize)> = (0..neg.len())
                .map(|i| (0, i))
                .chain((0..pos.len()).map(|i| (1, i)))
                .collect();
            order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed ^ 0x5eed));
            let mut out = Examples::default();
            for (class, index) in order {
                let from = if class == 0 { &neg } else { &pos };
                out.images.extend_from_slice(from.image(index));
                out.targets.push(class);
                out.source_index.push(from.source_index[index]);
            }
            Ok(out)
        };
        Ok(Task {
            kind: pair.kind,
            train: build(&self.train, n_train, seed, "training")?,
            test: build(&self.test, n_test, seed ^ 0x7e57, "test")?,
        })
    }

    /// The ten-class task on seeded random subsets (`None` = the whole split).
    pub fn ten_class_task(
        &self,
        n_train: Option<usize>,
        n_test: Option<usize>,
        seed: u64,
    ) -> Result<Task> {
        let target = |digit: u8| Some(usize::from(digit));
        Ok(Task {
            kind: TaskKind::TenClass,
            train: subset(&self.train, &target, n_train, seed, "training")?,
            test: subset(&self.test, &target, n_test, seed ^ 0x7e57, "test")?,
        })
    }
}

impl Task {
    /// A fixed, class-balanced panel of test examples for Grad-CAM: the first `per_class` test
    /// examples of each class (the test subset is already seeded-shuffled), classes interleaved.
    pub fn panel(&self, per_class: usize) -> Vec<usize> {
        let classes = self.kind.outputs().max(2);
        let mut by_class = vec![Vec::new(); classes];
        for (index, &target) in self.test.targets.iter().enumerate() {
            if by_class[target].len() < per_class {
                by_class[target].push(index);
            }
        }
        (0..per_class)
            .flat_map(|rank| {
                by_class
                    .iter()
                    .filter_map(move |list| list.get(rank).copied())
            })
            .collect()
    }
}

fn subset(
    split: &MnistSplit,
    target: &dyn Fn(u8) -> Option<usize>,
    n: Option<usize>,
    seed: u64,
    which: &str,
) -> Result<Examples> {
    let mut indices: Vec<usize> = (0..split.len())
        .filter(|&i| target(split.labels[i]).is_some())
        .collect();
    let available = indices.len();
    let n = n.unwrap_or(available);
    if n == 0 || n > available {
        return Err(VisionError::InvalidConfig {
            what: "task subset",
            reason: format!("asked for {n} {which} examples, 1..={available} available"),
        });
    }
    indices.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    indices.truncate(n);
    let mut out = Examples::default();
    for index in indices {
        out.images.extend_from_slice(split.image(index));
        out.targets
            .push(target(split.labels[index]).unwrap_or_default());
        out.source_index.push(index);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toy_mnist() -> Mnist {
        // Ten examples per digit; image k is filled with (k mod 10) / 10 so provenance is visible.
        let labels: Vec<u8> = (0..100).map(|k| (k % 10) as u8).collect();
        let images = (0..100)
            .flat_map(|k| std::iter::repeat_n((k % 10) as f32 / 10.0, PIXELS))
            .collect();
        let split = MnistSplit { images, labels };
        Mnist {
            train: split.clone(),
            test: split,
        }
    }

    #[test]
    fn binary_subset_is_seeded_and_labels_follow_the_digits() {
        let mnist = toy_mnist();
        let a = mnist.binary_task(4, 9, Some(12), Some(6), 3).unwrap();
        let b = mnist.binary_task(4, 9, Some(12), Some(6), 3).unwrap();
        let c = mnist.binary_task(4, 9, Some(12), Some(6), 4).unwrap();
        assert_eq!(a.train.source_index, b.train.source_index);
        assert_ne!(a.train.source_index, c.train.source_index);
        assert_eq!(a.train.len(), 12);
        for i in 0..a.train.len() {
            let digit = mnist.train.labels[a.train.source_index[i]];
            assert_eq!(a.train.targets[i], usize::from(digit == 9));
            assert!(digit == 4 || digit == 9);
            assert_eq!(a.train.image(i)[0], f32::from(digit) / 10.0);
        }
        assert!(mnist.binary_task(4, 4, None, None, 0).is_err());
        assert!(mnist.binary_task(4, 9, Some(21), None, 0).is_err());
    }

    #[test]
    fn balanced_subsets_hold_half_of_each_digit() {
        let mnist = toy_mnist();
        let a = mnist.balanced_binary_task(4, 9, 12, 6, 3).unwrap();
        let b = mnist.balanced_binary_task(4, 9, 12, 6, 3).unwrap();
        assert_eq!(a.train.source_index, b.train.source_index);
        for (examples, n) in [(&a.train, 12), (&a.test, 6)] {
            assert_eq!(examples.len(), n);
            assert_eq!(examples.targets.iter().filter(|&&t| t == 1).count(), n / 2);
            for i in 0..n {
                let digit = mnist.train.labels[examples.source_index[i]];
                assert_eq!(examples.targets[i], usize::from(digit == 9));
                assert_eq!(examples.image(i)[0], f32::from(digit) / 10.0);
            }
            let mut unique = examples.source_index.clone();
            unique.sort_unstable();
            unique.dedup();
            assert_eq!(unique.len(), n);
        }
        assert!(mnist.balanced_binary_task(4, 9, 11, 6, 0).is_err());
        assert!(mnist.balanced_binary_task(4, 9, 22, 6, 0).is_err());
    }

    #[test]
    fn panel_is_balanced_and_interleaved() {
        let task = toy_mnist().ten_class_task(None, None, 1).unwrap();
        let panel = task.panel(2);
        let targets: Vec<usize> = panel.iter().map(|&i| task.test.targets[i]).collect();
        let expected: Vec<usize> = (0..10).chain(0..10).collect();
        assert_eq!(targets, expected);
    }
}
