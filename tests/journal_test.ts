/**
 * The end-record journal beside the store: reserved space written in place,
 * entries kept until the store takes them, a line cut short by a crash
 * skipped, never opened through a link.
 * @module
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import {
  appendJournal,
  JOURNAL_RESERVE,
  journalHasEntries,
  journalPath,
  peekJournal,
  reserveJournal,
  takeJournal,
} from "../src/store/journal.ts";

function tempDb(): string {
  return join(Deno.makeTempDirSync({ prefix: "stint-journal-" }), "stint.db");
}

Deno.test("the journal is 0600 with its space reserved, and entries are written into it in place", () => {
  const db = tempDb();
  reserveJournal(db);
  const path = journalPath(db);
  assert.equal(Deno.statSync(path).mode! & 0o777, 0o600);
  assert.equal(Deno.statSync(path).size, JOURNAL_RESERVE);
  assert.equal(journalHasEntries(db), false);
  appendJournal(db, { n: 1 });
  appendJournal(db, { n: 2 });
  assert.equal(Deno.statSync(path).size, JOURNAL_RESERVE, "no new space used");
  assert.equal(journalHasEntries(db), true);
  assert.deepEqual(peekJournal(db), [{ n: 1 }, { n: 2 }]);

  // Kept while the store cannot take them, cleared (zeroed) once it does.
  assert.equal(takeJournal(db, () => false), 0);
  assert.deepEqual(peekJournal(db), [{ n: 1 }, { n: 2 }]);
  const seen: unknown[] = [];
  assert.equal(takeJournal(db, (e) => (seen.push(...e), true)), 2);
  assert.deepEqual(seen, [{ n: 1 }, { n: 2 }]);
  assert.equal(journalHasEntries(db), false);
  assert.equal(Deno.statSync(path).size, JOURNAL_RESERVE);
  assert.ok(Deno.readFileSync(path).every((b) => b === 0));
});

Deno.test("a journal line cut short by a crash is skipped and the next entry starts a fresh line", () => {
  const db = tempDb();
  reserveJournal(db);
  const f = Deno.openSync(journalPath(db), { write: true });
  f.writeSync(new TextEncoder().encode('{"n":1}\n{"n":2,"cut'));
  f.close();
  appendJournal(db, { n: 3 });
  assert.deepEqual(peekJournal(db), [{ n: 1 }, { n: 3 }]);
});

Deno.test("entries past the reserve still append; clearing shrinks the file back to the reserve", () => {
  const db = tempDb();
  reserveJournal(db);
  const big = "x".repeat(10_000);
  for (let i = 0; i < 10; i++) appendJournal(db, { i, big });
  assert.ok(Deno.statSync(journalPath(db)).size > JOURNAL_RESERVE);
  assert.equal(peekJournal(db).length, 10);
  assert.equal(takeJournal(db, () => true), 10);
  assert.equal(Deno.statSync(journalPath(db)).size, JOURNAL_RESERVE);
});

Deno.test("a journal that is a symbolic link is refused and its target left alone", () => {
  const db = tempDb();
  const target = join(db, "..", "elsewhere.txt");
  Deno.writeTextFileSync(target, "theirs");
  Deno.symlinkSync(target, journalPath(db));
  assert.throws(() => reserveJournal(db), /symbolic link/);
  assert.throws(() => appendJournal(db, { n: 1 }), /symbolic link/);
  assert.throws(() => takeJournal(db, () => true), /symbolic link/);
  assert.equal(journalHasEntries(db), false);
  assert.equal(Deno.readTextFileSync(target), "theirs");
});
