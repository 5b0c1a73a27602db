//! `minorfirst train` through the real binary: output shapes, data files, and bad input (exit 2).

use std::process::Command;

use serde_json::Value;

use crate::util::bin;

fn train(args: &[&str]) -> std::process::Output {
    Command::new(bin())
        .arg("train")
        .args(args)
        .output()
        .expect("spawn minorfirst")
}

fn json_of(output: &std::process::Output) -> Value {
    assert!(
        output.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("stdout is json")
}

#[test]
fn json_output_has_config_checkpoints_and_final() {
    let out = train(&[
        "--mu",
        "1,2",
        "--depth",
        "2",
        "--optimizer",
        "sam-l2",
        "--rho",
        "0.5",
        "--alpha",
        "0.7,0.7",
        "--lr",
        "0.01",
        "--steps",
        "100",
        "--checkpoints",
        "1,5,10",
    ]);
    let value = json_of(&out);
    assert_eq!(value["config"]["optimizer"], "sam-l2");
    assert_eq!(value["config"]["depth"], 2);
    assert_eq!(value["config"]["alpha"], serde_json::json!([0.7, 0.7]));
    let steps: Vec<u64> = value["checkpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["step"].as_u64().unwrap())
        .collect();
    assert_eq!(steps, vec![0, 1, 5, 10, 100]);
    assert_eq!(value["final"]["step"], 100);
    assert!((value["final"]["time"].as_f64().unwrap() - 1.0).abs() < 1e-12);
    assert_eq!(value["final"]["beta"].as_array().unwrap().len(), 2);
    assert_eq!(value["final"]["stop_reason"], "completed");
    // Step 0 is the balanced init: β = α² and loss = ln(1 + e^{-⟨β, μ⟩}).
    let first = &value["checkpoints"][0];
    assert!((first["beta"][0].as_f64().unwrap() - 0.49).abs() < 1e-15);
    let margin: f64 = 0.49 + 2.0 * 0.49;
    assert!((first["loss"].as_f64().unwrap() - (-margin).exp().ln_1p()).abs() < 1e-15);
}

#[test]
fn csv_output_carries_the_same_rows() {
    let out = train(&[
        "--mu",
        "1,2",
        "--depth",
        "3",
        "--optimizer",
        "gd",
        "--alpha-scale",
        "0.5",
        "--lr",
        "0.1",
        "--steps",
        "10",
        "--log-grid",
        "geometric:1",
        "--format",
        "csv",
        "--time",
        "rescaled",
    ]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "step,time,tau,loss,beta0,beta1,status");
    assert_eq!(lines.len(), 1 + 3, "rows 0, 1, 10");
    assert!(lines[3].starts_with("10,"));
}

#[test]
fn data_files_json_and_csv_give_the_same_run() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("d.json");
    std::fs::write(&json_path, r#"{"X": [[1, 2], [-0.5, -1]], "y": [1, -1]}"#).unwrap();
    let csv_path = dir.path().join("d.csv");
    std::fs::write(&csv_path, "x0,x1,y\n1,2,1\n-0.5,-1,-1\n").unwrap();
    let common = [
        "--depth",
        "2",
        "--optimizer",
        "sam-linf",
        "--rho",
        "0.1",
        "--alpha-scale",
        "0.3",
        "--lr",
        "0.05",
        "--steps",
        "50",
    ];
    let a = json_of(&train(
        &[&["--data", json_path.to_str().unwrap()], &common[..]].concat(),
    ));
    let b = json_of(&train(
        &[&["--data", csv_path.to_str().unwrap()], &common[..]].concat(),
    ));
    assert_eq!(a["final"]["beta"], b["final"]["beta"]);
    assert_eq!(a["config"]["n"], 2);
    // --out writes the file atomically and nothing to stdout.
    let out_path = dir.path().join("run.json");
    let out = train(
        &[
            &[
                "--data",
                csv_path.to_str().unwrap(),
                "--out",
                out_path.to_str().unwrap(),
            ],
            &common[..],
        ]
        .concat(),
    );
    assert!(out.status.success() && out.stdout.is_empty());
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(&out_path).unwrap()).unwrap();
    assert_eq!(written["final"]["beta"], a["final"]["beta"]);
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        3,
        "no temp file left behind"
    );
}

#[test]
fn flow_mode_reports_blow_up() {
    // ℓ∞-SAM at L = 3 (spec E3) blows up at τ = 1 in the rescaled clock.
    let value = json_of(&train(&[
        "--mu",
        "1,2",
        "--depth",
        "3",
        "--optimizer",
        "sam-linf",
        "--rho",
        "1",
        "--alpha",
        "2,1.4",
        "--flow",
        "--t-end",
        "2",
        "--at-times",
        "0.5,0.8",
        "--time",
        "rescaled",
    ]));
    assert_eq!(value["final"]["stop_reason"], "blow_up");
    assert!((value["final"]["stop_time"].as_f64().unwrap() - 1.0).abs() < 1e-4);
    assert_eq!(
        value["checkpoints"].as_array().unwrap().len(),
        3,
        "t = 0, 0.5, 0.8 reached"
    );
}

fn assert_bad(args: &[&str], needle: &str) {
    let out = train(args);
    assert_eq!(out.status.code(), Some(2), "args {args:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.starts_with("error:") && first.contains(needle),
        "{args:?}: {stderr}"
    );
}

#[test]
fn bad_input_exits_2_naming_the_flag_or_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = ["--depth", "2", "--lr", "0.1", "--steps", "5"];
    let with = |extra: &[&'static str]| -> Vec<&'static str> { [&base[..], extra].concat() };
    assert_bad(
        &with(&["--mu", "1,2", "--optimizer", "adam", "--alpha-scale", "1"]),
        "--optimizer",
    );
    assert_bad(
        &with(&[
            "--mu",
            "1,2",
            "--optimizer",
            "sam-l2",
            "--rho=-1",
            "--alpha-scale",
            "1",
        ]),
        "--rho",
    );
    assert_bad(
        &[
            "--depth",
            "0",
            "--mu",
            "1,2",
            "--optimizer",
            "gd",
            "--alpha-scale",
            "1",
            "--lr",
            "0.1",
            "--steps",
            "5",
        ],
        "--depth",
    );
    assert_bad(
        &with(&["--mu", "1,2", "--optimizer", "gd", "--alpha", "1,2,3"]),
        "--alpha",
    );
    assert_bad(
        &with(&["--mu", "1,NaN", "--optimizer", "gd", "--alpha-scale", "1"]),
        "--mu",
    );
    assert_bad(
        &[
            "--mu",
            "1,2",
            "--depth",
            "2",
            "--optimizer",
            "gd",
            "--alpha-scale",
            "1",
            "--steps",
            "5",
        ],
        "--lr",
    );
    assert_bad(
        &["--depth", "2", "--optimizer", "gd", "--alpha-scale", "1"],
        "--mu",
    );
    assert_bad(
        &["--mu", "1,2", "--optimizer", "gd", "--alpha-scale", "1"],
        "--depth",
    );
    assert_bad(
        &["--mu", "1,2", "--depth", "2", "--alpha-scale", "1"],
        "--optimizer",
    );
    assert_bad(
        &["--mu", "1,2", "--depth", "2", "--optimizer", "gd"],
        "--alpha",
    );
    assert_bad(
        &[
            "--mu",
            "1,2",
            "--depth",
            "2",
            "--optimizer",
            "sam-l2",
            "--alpha-scale",
            "1",
        ],
        "--rho",
    );
    let missing = dir.path().join("missing.json");
    let missing = missing.to_str().unwrap().to_string();
    let labels = dir.path().join("labels.csv");
    std::fs::write(&labels, "x0,x1,y\n1,2,1\n1,1,0\n").unwrap();
    let ragged = dir.path().join("ragged.json");
    std::fs::write(&ragged, r#"{"X": [[1, 2], [1]], "y": [1, 1]}"#).unwrap();
    let nan = dir.path().join("nan.csv");
    std::fs::write(&nan, "x0,y\nNaN,1\n").unwrap();
    for (path, needle) in [
        (missing.clone(), "missing.json"),
        (labels.to_str().unwrap().to_string(), "not +1 or -1"),
        (ragged.to_str().unwrap().to_string(), "ragged"),
        (nan.to_str().unwrap().to_string(), "not finite"),
    ] {
        let args = [
            &base[..],
            &[
                "--data",
                path.as_str(),
                "--optimizer",
                "gd",
                "--alpha-scale",
                "1",
            ],
        ]
        .concat();
        assert_bad(&args, needle);
        assert_bad(&args, &path);
    }
}

#[test]
fn help_lists_the_choices_of_every_enumerated_flag() {
    for flag in ["-h", "--help"] {
        let help = train(&[flag]);
        assert!(help.status.success());
        let text = String::from_utf8_lossy(&help.stdout).to_lowercase();
        assert!(text.contains("possible values"), "{flag}: {text}");
        for choice in [
            "gd", "sam-linf", "sam-l2", "usam", "original", "rescaled", "json", "csv",
        ] {
            assert!(text.contains(choice), "{flag} lacks {choice}: {text}");
        }
    }
    // A value outside the choices is refused by clap with exit 2, naming the flag and the choices.
    let out = train(&[
        "--mu",
        "1,2",
        "--depth",
        "2",
        "--optimizer",
        "gd",
        "--time",
        "later",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .lines()
            .next()
            .unwrap_or_default()
            .starts_with("error:")
            && stderr.contains("--time")
            && stderr.contains("rescaled"),
        "{stderr}"
    );
}

#[test]
fn usam_is_an_optimizer_value_listed_by_help_and_rho_zero_is_gd() {
    let help = train(&["--help"]);
    assert!(help.status.success());
    assert!(String::from_utf8_lossy(&help.stdout).contains("usam"));
    let run = |optimizer: &str, rho: &str| {
        json_of(&train(&[
            "--mu",
            "1,2",
            "--depth",
            "2",
            "--optimizer",
            optimizer,
            "--rho",
            rho,
            "--alpha",
            "0.3,0.2",
            "--lr",
            "0.05",
            "--steps",
            "50",
        ]))
    };
    let usam = run("usam", "0.5");
    assert_eq!(usam["config"]["optimizer"], "usam");
    // One step by hand is tested in crates/numerics/tests/usam.rs; here ρ = 0 reproduces GD bit for bit
    // and ρ = 0.5 moves away from it.
    assert_eq!(
        run("usam", "0")["final"]["beta"],
        run("gd", "0")["final"]["beta"]
    );
    assert_ne!(usam["final"]["beta"], run("gd", "0")["final"]["beta"]);
}
