// src/protocol.ts mirrors protocol/PROTOCOL.md: the same methods with the same status. This fails when they drift.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { test } from 'node:test';
import { REASONS } from '../../src/ideText';
import { messageTypes, methods } from '../../src/protocol';
import { PROTOCOL_MD } from './paths';

export function headings(markdown: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const match of markdown.matchAll(/^### `([^`]+)` \((implemented|planned)\)\s*$/gm)) {
    assert.ok(!out.has(match[1]), `PROTOCOL.md declares ${match[1]} twice`);
    out.set(match[1], match[2]);
  }
  return out;
}

test('PROTOCOL.md and protocol.ts declare the same methods with the same status', () => {
  const documented = headings(fs.readFileSync(PROTOCOL_MD, 'utf8'));
  assert.ok(documented.size > 10, `only ${documented.size} method headings parsed from ${PROTOCOL_MD}`);
  const declared = new Map<string, string>(Object.entries(methods));
  const missing = [...documented.keys()].filter((m) => !declared.has(m));
  const extra = [...declared.keys()].filter((m) => !documented.has(m));
  assert.deepEqual({ missingFromProtocolTs: missing, notInProtocolMd: extra }, { missingFromProtocolTs: [], notInProtocolMd: [] });
  for (const [name, status] of documented) assert.equal(declared.get(name), status, `status of ${name}`);
});

test('every typed message in protocol.ts names a method of the table', () => {
  for (const type of messageTypes) assert.ok(type.method in methods, `${type.method} is typed but not in methods`);
});

test('every implemented method except the base protocol ones has a typed message', () => {
  const typed = new Set(messageTypes.map((t) => t.method));
  const untyped = Object.keys(methods).filter((m) => !typed.has(m) && m !== '$/cancelRequest');
  assert.deepEqual(untyped, []);
});

test('the heading parser sees a drift', () => {
  const md = '### `tether/version` (implemented)\n### `tether/new` (planned)\n';
  const parsed = headings(md);
  assert.equal(parsed.get('tether/new'), 'planned');
  assert.ok(!('tether/new' in methods));
});

/** The reasons of PROTOCOL.md's error.data table: its rows whose first cell is a `reason`. */
export function documentedReasons(markdown: string): string[] {
  const table = markdown.slice(markdown.indexOf('| reason | what resolves it | field |'));
  const rows = table.split('\n').slice(2);
  const reasons: string[] = [];
  for (const row of rows) {
    const match = /^\| `([a-z-]+)` \|/.exec(row);
    if (!match) break;
    reasons.push(match[1]);
  }
  return reasons;
}

test('ideText.ts knows every error reason of PROTOCOL.md, and no other', () => {
  const documented = documentedReasons(fs.readFileSync(PROTOCOL_MD, 'utf8'));
  assert.ok(documented.length >= 5, `only ${documented.length} reasons parsed from ${PROTOCOL_MD}`);
  assert.deepEqual([...documented].sort(), Object.keys(REASONS).sort());
});
