import assert from 'node:assert/strict';
import { MIN_REDACTED_LENGTH, REDACTED, redactError, redactText, sqlEscaped } from '../lib/redact.js';

describe('redact', () => {
  describe('redactText', () => {
    it('replaces every occurrence of each secret with the one marker', () => {
      assert.equal(redactText('p4ss and p4ss, t0ken', ['p4ss', 't0ken']), `${REDACTED} and ${REDACTED}, ${REDACTED}`);
    });

    it('replaces the forms a secret takes in a URL or a statement', () => {
      const secret = "it's/s3cret";
      const text = `mysql://app:${encodeURIComponent(secret)}@db/ and IDENTIFIED BY '${sqlEscaped(secret)}'`;
      const out = redactText(text, [secret], [encodeURIComponent, sqlEscaped]);
      assert.equal(out, `mysql://app:${REDACTED}@db/ and IDENTIFIED BY '${REDACTED}'`);
    });

    it(`leaves secrets shorter than ${MIN_REDACTED_LENGTH} characters, undefined and empty ones alone`, () => {
      assert.equal(redactText('a cat sat', ['a', 'at', '', undefined]), 'a cat sat');
    });
  });

  describe('sqlEscaped', () => {
    it('escapes as mysql2 writes a string inside a quoted literal', () => {
      assert.equal(sqlEscaped(`a'b"c\\d\0e\nf\rg\th\x1ai\bj`), `a\\'b\\"c\\\\d\\0e\\nf\\rg\\th\\Zi\\bj`);
    });
  });

  describe('redactError', () => {
    it('cleans message, sqlMessage and stack, deletes sql, and follows causes', () => {
      const cause = Object.assign(new Error('denied for hunter22'), { sql: "SET PASSWORD = 'hunter22'" });
      const error = Object.assign(new Error('failed: hunter22', { cause }), { sqlMessage: 'near hunter22', sql: 'x' });
      assert.equal(redactError(error, ['hunter22']), error);
      assert.equal(error.message, `failed: ${REDACTED}`);
      assert.equal(error.sqlMessage, `near ${REDACTED}`);
      assert.ok(!error.stack?.includes('hunter22'));
      assert.ok(!('sql' in error));
      assert.equal(cause.message, `denied for ${REDACTED}`);
      assert.ok(!('sql' in cause));
    });

    it('leaves values that are not objects, and read-only messages, as they are', () => {
      assert.equal(redactError('hunter22', ['hunter22']), 'hunter22');
      const frozen = Object.freeze(new Error('hunter22'));
      assert.doesNotThrow(() => redactError(frozen, ['hunter22']));
    });
  });
});
