/**
 * The command table for `stint completions`.
 * @module
 */
import type { Command } from "./types.ts";

/** The shells `stint completions` writes scripts for. */
export const SHELLS = ["bash", "zsh", "fish"] as const;

/** `stint completions`. */
export const COMPLETIONS: Command = {
  name: "completions",
  summary: "Print the shell completion script for bash, zsh or fish",
  usage: ["completions bash|zsh|fish"],
  about: `Print a completion script for your shell. It completes commands,
subcommands and flags, the task names of the current project (stint run),
refs, and recent run and background run ids, by asking stint itself (a
hidden, quick stint __complete) when you press TAB, so it stays right as
stint and your history change.`,
  flags: [],
  args: [SHELLS],
  notes: `Install:
  bash   echo 'source <(stint completions bash)' >> ~/.bashrc
  zsh    echo 'source <(stint completions zsh)' >> ~/.zshrc   (after compinit)
  fish   stint completions fish > ~/.config/fish/completions/stint.fish`,
  examples: [
    "source <(stint completions bash)",
    "stint completions fish > ~/.config/fish/completions/stint.fish",
  ],
};
