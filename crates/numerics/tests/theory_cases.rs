//! Spec cases (E10, E12, E17, E18) driven through the public theory, max-margin and generator APIs, the
//! way stage code calls them.

use numerics::generate::{gaussian_clusters, single_example};
use numerics::maxmargin::{l1_max_margin, l2_max_margin};
use numerics::theory::l2::{COdeOptions, Fate, L2Config, balanced_rhs, solve_c_ode};
use numerics::theory::linf::{LinfConfig, LinfLimit};
use numerics::theory::regimes::{a_k, alpha_c};

const MU5: [f64; 5] = [1.0, 2.0, 3.0, 4.0, 5.0];

/// RK4 of the balanced depth-L ℓ2-SAM flow until max β > `beta_cap`; returns every change of argmax w with
/// its time (1-based indices, to compare with the spec's text).
fn balanced_switches(
    depth: usize,
    alpha: f64,
    h: f64,
    beta_cap: f64,
) -> (usize, Vec<(usize, f64)>) {
    let d = MU5.len();
    let rhs = |w: &[f64]| {
        let mut out = vec![0.0; d];
        balanced_rhs(&MU5, 1.0, depth, w, &mut out);
        out
    };
    let argmax = |w: &[f64]| {
        (0..d)
            .max_by(|&a, &b| w[a].total_cmp(&w[b]))
            .expect("d ≥ 1")
            + 1
    };
    let mut w = vec![alpha; d];
    let mut tau = 0.0;
    // At τ = 0 every coordinate ties; the first step decides the initial leader.
    let mut switches = Vec::new();
    let mut current = 0;
    let mut initial = 0;
    while w.iter().map(|x| x.powi(depth as i32)).fold(0.0, f64::max) < beta_cap {
        let k1 = rhs(&w);
        let k2 = rhs(&(0..d).map(|j| w[j] + 0.5 * h * k1[j]).collect::<Vec<_>>());
        let k3 = rhs(&(0..d).map(|j| w[j] + 0.5 * h * k2[j]).collect::<Vec<_>>());
        let k4 = rhs(&(0..d).map(|j| w[j] + h * k3[j]).collect::<Vec<_>>());
        for j in 0..d {
            w[j] += h / 6.0 * (k1[j] + 2.0 * k2[j] + 2.0 * k3[j] + k4[j]);
        }
        tau += h;
        let leader = argmax(&w);
        if current == 0 {
            current = leader;
            initial = leader;
        } else if leader != current {
            switches.push((leader, tau));
            current = leader;
        }
        assert!(tau < 100.0, "no blow-up");
    }
    (initial, switches)
}

#[test]
fn e18_l2_sam_depth_three_is_sequential_and_ends_at_e5() {
    // B5.9: α = 0.5 runs 2→3→4→5 at τ = 0.905, 1.241, 1.299 (generic Euler η = 1e−4, so the spec's times
    // carry O(η)·(blow-up amplification) ≈ 3e−3 error; RK4 h = 1e−4 is far more accurate).
    let (initial, switches) = balanced_switches(3, 0.5, 1e-4, 1e6);
    assert_eq!(initial, 2);
    let expected = [(3, 0.905), (4, 1.241), (5, 1.299)];
    assert_eq!(switches.len(), expected.len(), "{switches:?}");
    for ((to, tau), (want_to, want_tau)) in switches.iter().zip(expected) {
        assert_eq!(*to, want_to, "{switches:?}");
        assert!((tau - want_tau).abs() < 5e-3, "{switches:?}");
    }
    // α ≥ 1.5: coordinate 5 from the start.
    let (initial, none) = balanced_switches(3, 1.5, 1e-4, 1e6);
    assert!(initial == 5 && none.is_empty(), "{none:?}");
}

#[test]
fn depth_two_balanced_rhs_agrees_with_the_c_ode_e12() {
    // The d-dimensional reduced ODE and the scalar C-ODE are two derivations of the same flow: RK4 with
    // h = 1e−4 locates the α = 0.40 switches to ~h, the C-ODE to ~1e−12.
    let (initial, rk4) = balanced_switches(2, 0.4, 1e-4, 1e12);
    let solution = solve_c_ode(
        &L2Config::uniform(&MU5, 0.4, 1.0).unwrap(),
        &COdeOptions::until(5.0),
    )
    .unwrap();
    let (exact_initial, exact) = solution.dominant_sequence();
    assert_eq!(initial, exact_initial + 1);
    assert_eq!(rk4.len(), exact.len());
    for ((to, tau), switch) in rk4.iter().zip(&exact) {
        assert_eq!(*to, switch.to + 1);
        assert!((tau - switch.tau).abs() < 2e-4, "{rk4:?} vs {exact:?}");
    }
}

#[test]
fn e10_regime_boundaries_classify_the_flow() {
    let mu = [1.0, 2.0];
    let critical = alpha_c(&mu, 1.0).unwrap();
    let major = a_k(&mu, 1.0).unwrap()[0];
    let fate = |alpha: f64| {
        solve_c_ode(
            &L2Config::uniform(&mu, alpha, 1.0).unwrap(),
            &COdeOptions::until_decided(1e4),
        )
        .unwrap()
        .fate()
    };
    assert_eq!(fate(critical - 1e-4), Fate::Collapses);
    assert_eq!(fate(critical + 1e-4), Fate::Grows);
    // The collapsing flow ends with the slowest-shrinking coordinate 0 in the lead (B5.6).
    let collapse = solve_c_ode(
        &L2Config::uniform(&mu, 0.45, 1.0).unwrap(),
        &COdeOptions::until(100.0),
    )
    .unwrap();
    let end = collapse.collapse_time().expect("collapses");
    assert_eq!(collapse.dominant_at(end), 0);
    assert!(collapse.beta_at(end).iter().all(|b| *b < 1e-8));
    // Sequential regime in between, major from the start above a_1.
    let between = solve_c_ode(
        &L2Config::uniform(&mu, 0.5 * (critical + major), 1.0).unwrap(),
        &COdeOptions::until(40.0),
    )
    .unwrap();
    assert_eq!(between.dominant_sequence().0, 0);
    assert_eq!(between.switches().len(), 1);
}

#[test]
fn e17_b7_data_keep_linf_gating_and_l1_axis() {
    // Seed-independent B7 facts: σ = 0.3 around ±(1, 2) keeps y_i x_i > 0 entrywise (the nearest draw
    // would have to be a 3.3σ outlier in coordinate 1), and the ℓ1 max-margin is then an axis (e_2 here).
    for seed in 0..3 {
        let data = gaussian_clusters(&[1.0, 2.0], 0.3, 20, seed).unwrap();
        for i in 0..data.n() {
            assert!(
                data.row(i).iter().all(|x| data.y()[i] * x > 0.0),
                "seed {seed} row {i}"
            );
        }
        let l1 = l1_max_margin(&data, true).unwrap();
        assert!(l1.normalized[0].abs() < 1e-6 && (l1.normalized[1] - 1.0).abs() < 1e-6);
        let l2 = l2_max_margin(&data).unwrap();
        assert!(l2.direction_l2().iter().all(|v| *v > 0.0));
    }
}

#[test]
fn single_example_linf_and_max_margin_agree_on_the_major_axis() {
    // With every α_j > ρ at depth 2, ℓ∞-SAM's limit e_{argmax μ} is the ℓ1 max-margin direction (B4.3, B6).
    let mu = [0.5, 3.0, 1.0];
    let prediction = LinfConfig::new(&mu, &[2.0, 2.0, 2.0], 1.0, 2)
        .unwrap()
        .predict();
    let l1 = l1_max_margin(&single_example(&mu).unwrap(), false).unwrap();
    let LinfLimit::Basis { index } = prediction.limit else {
        panic!("expected a basis limit")
    };
    assert_eq!(index, 1);
    assert!((l1.normalized[index] - 1.0).abs() < 1e-6);
}
