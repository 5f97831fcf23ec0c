/**
 * Shell completions. `stint completions bash|zsh|fish` prints a small
 * script that, on TAB, calls the hidden `stint __complete <words...>`; that
 * walks the command table (src/cli/commands/) and prints one candidate per
 * line (`value<TAB>description`), then a directive line: `:files`, `:dirs`
 * or `:commands` to let the shell complete paths or programs, `:none`
 * otherwise. Values that change (task names, refs, run ids) are looked up
 * then, reading the store read-only and never creating it.
 * @module
 */
import { UsageError } from "../errors.ts";
import {
  allCommands,
  type Command,
  commandTable,
  type Completion,
  type Flag,
  GLOBAL_FLAGS,
} from "./commands/mod.ts";
import { SHELLS } from "./commands/shell.ts";
import type { CommandModule, Context } from "./context.ts";
import { write } from "./output.ts";

/** One completion: the word and what it is. */
export interface Candidate {
  value: string;
  description?: string;
}

/** What `__complete` answers: candidates and what the shell should add. */
export interface Completions {
  candidates: Candidate[];
  directive: "none" | "files" | "dirs" | "commands";
}

/** Run `stint completions <shell>`. */
export function run(args: string[]): number {
  const [shell, ...extra] = args;
  if (shell === undefined) {
    throw new UsageError(
      "stint completions needs a shell: bash, zsh or fish (see stint completions --help)",
    );
  }
  if (extra.length > 0) {
    throw new UsageError(
      `Unexpected argument "${extra[0]}" for stint completions`,
    );
  }
  const script = SCRIPTS[shell];
  if (!script) {
    throw new UsageError(
      `No completions for "${shell}"; stint completes ${SHELLS.join(", ")}`,
    );
  }
  write(script);
  return 0;
}

/** The hidden `stint __complete <words...>`: the last word is the one being completed. */
export const complete: CommandModule = {
  async run(args: string[], ctx: Context): Promise<number> {
    const words = args.length ? args : [""];
    const { candidates, directive } = await completeWords(words, {
      dbPath: ctx.dbPath,
      cwd: Deno.cwd(),
    });
    const lines = candidates.map((c) =>
      c.description ? `${c.value}\t${oneLine(c.description)}` : c.value
    );
    write([...lines, `:${directive}`].join("\n") + "\n");
    return 0;
  },
};

/**
 * Complete the last of `words` (the words after `stint`, the last one
 * possibly empty): commands, subcommands, flags, flag values and
 * positionals, as the command table describes them.
 */
export async function completeWords(
  words: string[],
  where: { dbPath: string; cwd: string },
): Promise<Completions> {
  const cur = words[words.length - 1];
  const before = words.slice(0, -1);
  // Global flags may come first: `stint --db x history ...`.
  let i = 0;
  while (i < before.length && before[i].startsWith("-")) {
    if (takesValue(GLOBAL_FLAGS, before[i])) {
      if (i === before.length - 1) {
        return { candidates: [], directive: "files" };
      }
      i++;
    }
    i++;
  }
  if (i >= before.length) {
    if (cur.startsWith("-")) return flagCandidates(GLOBAL_FLAGS, cur);
    const cmds = (await allCommands()).filter((c) => !c.hidden);
    return matching(
      cmds.map((c) => ({ value: c.name, description: c.summary })),
      cur,
    );
  }
  const top = await commandTable(before[i]);
  if (!top) return { candidates: [], directive: "none" };
  let cmd: Command = top;
  let rest = before.slice(i + 1);
  // A subcommand is the first word after the command, if it names one.
  const subWord = rest.find((w) => !w.startsWith("-"));
  const sub = subWord === undefined
    ? undefined
    : top.subcommands?.find((s) => s.name.split(" ").at(-1) === subWord);
  if (sub) {
    cmd = sub;
    const at = rest.indexOf(subWord!);
    rest = rest.filter((_, k) => k !== at);
  }
  // --version only means something before a command. Hidden flags (aliases)
  // are never offered but still known, so a value after them is skipped.
  const own = new Set(cmd.flags.map((f) => f.name));
  const known = [
    ...cmd.flags,
    ...GLOBAL_FLAGS.filter((f) => !own.has(f.name)),
  ].filter((f) => f.name !== "version");
  const flags = known.filter((f) => !f.hidden);
  let positional = 0;
  let dashDash = false;
  // After the first positional of `run` every word is the task's.
  const argsOnly = () => cmd.optionsBeforeArgs === true && positional > 0;
  for (let k = 0; k < rest.length; k++) {
    const w = rest[k];
    if (dashDash || w === "-" || !w.startsWith("-") || argsOnly()) {
      positional++;
      continue;
    }
    if (w === "--") {
      dashDash = true;
      continue;
    }
    if (takesValue(known, w) && !w.includes("=")) {
      if (k === rest.length - 1) {
        return await values(findFlag(known, w)!.complete, cur, where);
      }
      k++;
    }
  }
  if (!dashDash && cur.startsWith("-") && !argsOnly()) {
    const eq = cur.indexOf("=");
    if (eq !== -1 && cur.startsWith("--")) {
      const flag = findFlag(known, cur.slice(0, eq));
      if (flag?.value) {
        const got = await values(flag.complete, cur.slice(eq + 1), where);
        return {
          ...got,
          candidates: got.candidates.map((c) => ({
            ...c,
            value: `${cur.slice(0, eq + 1)}${c.value}`,
          })),
        };
      }
    }
    return flagCandidates(flags, cur);
  }
  // At the subcommand's place: the subcommands (and, for history, refs too).
  if (!sub && cmd.subcommands?.length && positional === 0) {
    const subs = matching(
      (cmd.subcommands ?? []).filter((s) => !s.hidden).map((s) => ({
        value: s.name.split(" ").at(-1)!,
        description: s.summary,
      })),
      cur,
    );
    if (cmd.needsSubcommand) return subs;
    const more = await values(cmd.args?.[0], cur, where);
    return {
      candidates: [...subs.candidates, ...more.candidates],
      directive: more.directive,
    };
  }
  const args = cmd.args ?? [];
  const kind = args.length === 0
    ? undefined
    : args[Math.min(positional, args.length - 1)];
  return await values(kind, cur, where);
}

function findFlag(flags: readonly Flag[], word: string): Flag | undefined {
  const name = word.replace(/=.*$/, "");
  return flags.find((f) =>
    `--${f.name}` === name || (f.short !== undefined && `-${f.short}` === name)
  );
}

function takesValue(flags: readonly Flag[], word: string): boolean {
  const flag = findFlag(flags, word);
  return flag?.value !== undefined && !flag.inline && !word.includes("=");
}

function flagCandidates(flags: readonly Flag[], cur: string): Completions {
  const all: Candidate[] = [];
  for (const f of flags) {
    if (f.hidden) continue;
    all.push({ value: `--${f.name}`, description: f.help });
    if (f.short && cur.length <= 2 && !cur.startsWith("--")) {
      all.push({ value: `-${f.short}`, description: f.help });
    }
  }
  return matching(all, cur);
}

function matching(all: Candidate[], cur: string): Completions {
  return {
    candidates: all.filter((c) => c.value.startsWith(cur)),
    directive: "none",
  };
}

/** The candidates for a value of kind `kind` starting with `cur`. */
async function values(
  kind: Completion | undefined,
  cur: string,
  where: { dbPath: string; cwd: string },
): Promise<Completions> {
  if (kind === undefined) return { candidates: [], directive: "none" };
  if (kind === "files" || kind === "dirs" || kind === "commands") {
    return { candidates: [], directive: kind };
  }
  if (typeof kind !== "string") {
    return matching(kind.map((v) => ({ value: v })), cur);
  }
  const { lookup } = await import("./complete_values.ts");
  try {
    return matching(await lookup(kind, where), cur);
  } catch {
    // A broken config or store must not break the shell's TAB.
    return { candidates: [], directive: "none" };
  }
}

function oneLine(text: string): string {
  // deno-lint-ignore no-control-regex
  return text.replace(/[\x00-\x1f\x7f]+/g, " ").slice(0, 80);
}

const BASH =
  `# stint completion for bash. Install: source <(stint completions bash)
_stint_complete() {
  local line cur out l directive=:none
  local -a words cands
  line=\${COMP_LINE:0:COMP_POINT}
  read -r -a words <<< "$line"
  [[ $line == *[[:space:]] ]] && words+=("")
  cur=\${words[\${#words[@]}-1]}
  out=$(command stint __complete "\${words[@]:1}" 2>/dev/null) || return 0
  while IFS= read -r l; do
    case $l in
      :*) directive=$l ;;
      *) cands+=("\${l%%$'\\t'*}") ;;
    esac
  done <<< "$out"
  case $directive in
    :files) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -f -- "$cur") ;;
    :dirs) compopt -o filenames 2>/dev/null; mapfile -t COMPREPLY < <(compgen -d -- "$cur") ;;
    :commands) mapfile -t COMPREPLY < <(compgen -c -- "$cur") ;;
    *) COMPREPLY=("\${cands[@]}") ;;
  esac
  # bash splits words at ":" (refs are project:task): reply with the part
  # after the last colon, which is all bash replaces.
  if [[ $cur == *:* && $COMP_WORDBREAKS == *:* ]]; then
    local pre=\${cur%"\${cur##*:}"} i
    for i in "\${!COMPREPLY[@]}"; do COMPREPLY[i]=\${COMPREPLY[i]#"$pre"}; done
  fi
  return 0
}
complete -F _stint_complete stint
`;

const ZSH = `#compdef stint
# stint completion for zsh. Install (after compinit): source <(stint completions zsh)
_stint() {
  local out l directive=:none
  local -a cands descs
  out=$(command stint __complete "\${(@)words[2,CURRENT]}" 2>/dev/null) || return 1
  for l in "\${(@f)out}"; do
    if [[ $l == :* ]]; then directive=$l; continue; fi
    cands+=("\${l%%$'\\t'*}")
    if [[ $l == *$'\\t'* ]]; then
      descs+=("\${l%%$'\\t'*}  -- \${l#*$'\\t'}")
    else
      descs+=("$l")
    fi
  done
  case $directive in
    :files) _files; return ;;
    :dirs) _files -/; return ;;
    :commands) _command_names -e; return ;;
  esac
  (( \${#cands} )) && compadd -l -d descs -- "\${cands[@]}"
}
compdef _stint stint
`;

const FISH = `# stint completion for fish.
# Install: stint completions fish > ~/.config/fish/completions/stint.fish
function __stint_complete
    set -l words (commandline -opc) (commandline -ct)
    set -l out (command stint __complete $words[2..-1] 2>/dev/null)
    or return
    set -l directive :none
    for l in $out
        if string match -q -- ':*' $l
            set directive $l
        else
            echo $l
        end
    end
    switch $directive
        case :files
            __fish_complete_path (commandline -ct)
        case :dirs
            __fish_complete_directories (commandline -ct)
        case :commands
            __fish_complete_command (commandline -ct)
    end
end
complete -c stint -f -a '(__stint_complete)'
`;

const SCRIPTS: Record<string, string> = { bash: BASH, zsh: ZSH, fish: FISH };
