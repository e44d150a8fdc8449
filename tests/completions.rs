//! `completions` and `man` through the real binary, checked against the clap definitions the
//! binary parses with (`Cli::command()`), never against a hand-written list: the bash script is
//! loaded into a real bash (`source <(kube-oidc-publisher completions bash)`) and asked to
//! complete; the zsh, fish, PowerShell and elvish scripts must name every subcommand; the man
//! pages (roff) must name every subcommand and every option of `sync` and render with groff
//! without a warning.

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use clap::CommandFactory as _;
use kube_oidc_publisher::cli::Cli;
use support::*;

const BIN: &str = env!("CARGO_BIN_EXE_kube-oidc-publisher");

/// Every visible subcommand name, nested ones included (`rotate`, `stage`, …).
fn subcommand_names(command: &clap::Command) -> Vec<String> {
    let mut names = Vec::new();
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        names.push(sub.get_name().to_owned());
        names.extend(subcommand_names(sub));
    }
    names
}

/// `--long` and `-s` of every visible option of `command`, global ones included.
fn option_flags(command: &clap::Command) -> BTreeSet<String> {
    let mut flags = BTreeSet::new();
    for arg in command.get_arguments().filter(|a| !a.is_hide_set()) {
        if let Some(long) = arg.get_long() {
            flags.insert(format!("--{long}"));
        }
        if let Some(short) = arg.get_short() {
            flags.insert(format!("-{short}"));
        }
    }
    flags
}

fn sync_command() -> clap::Command {
    let mut cli = Cli::command();
    cli.build();
    cli.find_subcommand("sync").expect("a sync command").clone()
}

/// What bash offers for the last word of `words` (the command line up to the cursor).
fn bash_complete(words: &[&str]) -> BTreeSet<String> {
    let (dir, _) = setup("completions-bash");
    // The function name comes from the script's own `complete -F` line.
    let script = r#"
source <("$BIN" completions bash) || exit 3
spec=$(complete -p kube-oidc-publisher) || exit 4
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 ))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
COMPREPLY=()
"$fn" "$1" "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;
    let mut bash = TestCommand::program(dir.path(), Path::new("bash"));
    bash.env("BIN", BIN)
        .args(["--norc", "--noprofile", "-c", script, "bash"])
        .args(words);
    let output = bash.assert_success();
    stdout_str(&output)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

#[test]
fn bash_completes_subcommands_and_sync_options_from_the_clap_definitions() {
    let cli = Cli::command();
    let expected: BTreeSet<String> = cli
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .filter(|name| name.starts_with("sy"))
        .collect();
    assert!(expected.contains("sync"));
    assert_eq!(bash_complete(&["kube-oidc-publisher", "sy"]), expected);

    let expected: BTreeSet<String> = option_flags(&sync_command())
        .into_iter()
        .filter(|flag| flag.starts_with("--sto"))
        .collect();
    assert!(expected.contains("--store"));
    assert_eq!(
        bash_complete(&["kube-oidc-publisher", "sync", "--sto"]),
        expected
    );
}

#[test]
fn zsh_fish_powershell_and_elvish_scripts_name_every_subcommand() {
    let names = subcommand_names(&Cli::command());
    assert!(names.iter().any(|n| n == "stage"), "nested ones too");
    for shell in ["zsh", "fish", "powershell", "elvish", "bash"] {
        let (_dir, mut cmd) = setup("completions");
        cmd.args(["completions", shell]);
        let output = cmd.assert_success();
        assert!(output.stderr.is_empty(), "{shell}: {}", stderr_str(&output));
        let script = stdout_str(&output);
        for name in &names {
            assert!(
                script.contains(name.as_str()),
                "the {shell} script does not name {name}"
            );
        }
    }
    let (_dir, mut cmd) = setup("completions-unknown");
    cmd.args(["completions", "tcsh"]);
    let output = cmd.assert_exit(2);
    assert!(
        stderr_str(&output).contains("invalid value 'tcsh'"),
        "{}",
        stderr_str(&output)
    );
}

/// roff escapes every `-` as `\-`; undo it to search for flags.
fn roff_text(page: &[u8]) -> String {
    String::from_utf8(page.to_vec())
        .unwrap()
        .replace("\\-", "-")
}

#[test]
fn man_pages_name_every_subcommand_and_every_sync_option() {
    // One page on stdout: the top-level one.
    let (dir, mut cmd) = setup("man");
    cmd.arg("man");
    let top = roff_text(&cmd.assert_success().stdout);
    assert!(top.contains(".TH kube-oidc-publisher"), "{top}");
    for sub in Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
    {
        assert!(
            top.contains(&format!("kube-oidc-publisher-{}(1)", sub.get_name())),
            "the man page does not name {}",
            sub.get_name()
        );
    }

    // One page per command with --out-dir.
    let pages = dir.path().join("man1");
    std::fs::create_dir(&pages).unwrap();
    let mut cmd = cmd.clone();
    cmd.clear_args().arg("man").arg("--out-dir").arg(&pages);
    cmd.assert_success();
    let sync_page = roff_text(&std::fs::read(pages.join("kube-oidc-publisher-sync.1")).unwrap());
    let flags = option_flags(&sync_command());
    assert!(flags.contains("--store") && flags.contains("--kubeconfig"));
    for flag in &flags {
        assert!(
            sync_page.contains(flag.as_str()),
            "the sync man page does not name {flag}"
        );
    }
    for path in [vec!["rotate", "stage"], vec!["doctor"], vec!["completions"]] {
        let file = pages.join(format!("kube-oidc-publisher-{}.1", path.join("-")));
        assert!(file.is_file(), "no page {}", file.display());
    }

    // Rendered by groff without a warning, as `man` would (.ci/run installs groff-base where
    // it is missing).
    let groff_present = std::process::Command::new("groff")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        groff_present,
        "groff is needed to render the man pages: apt-get install groff-base"
    );
    for page in ["kube-oidc-publisher.1", "kube-oidc-publisher-sync.1"] {
        let mut groff = TestCommand::program(dir.path(), Path::new("groff"));
        groff
            .args(["-man", "-Tutf8", "-ww", "-P", "-cbou"])
            .arg(pages.join(page));
        let output = groff.assert_success();
        assert!(
            output.stderr.is_empty(),
            "groff warns about {page}: {}",
            stderr_str(&output)
        );
        let text = stdout_str(&output);
        assert!(text.contains("kube-oidc-publisher"), "{text}");
        if page.ends_with("-sync.1") {
            assert!(text.contains("--store"), "{text}");
        }
    }
}

#[test]
fn man_into_a_missing_directory_is_refused_with_what_to_do() {
    let (dir, mut cmd) = setup("man-missing");
    cmd.arg("man")
        .arg("--out-dir")
        .arg(dir.path().join("no-such-dir"));
    let output = cmd.assert_exit(2);
    let err = stderr_str(&output);
    assert!(
        err.contains("cannot write the man pages into")
            && err.contains("pass an existing directory"),
        "{err}"
    );
    assert!(!dir.path().join("no-such-dir").exists(), "nothing created");
}
