// 'layers or graph?' is one rule: js/browser/runner.js's detectFormat against the cases
// tests/unit/test_model_format.py checks tfjs/artifacts.py's model_format with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import '../../js/browser/runner.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const { cases } = JSON.parse(fs.readFileSync(path.join(here, '..', 'fixtures', 'model_formats.json'), 'utf8'));

test('detectFormat agrees with the Python rule on every case', () => {
  assert.ok(cases.length >= 8);
  for (const { model_json: modelJson, format } of cases) {
    assert.equal(globalThis.QuantlabRunner.detectFormat(modelJson), format ?? 'layers', JSON.stringify(modelJson));
  }
});
