import { describe, expect, it } from 'vitest';
import { ExtractiveAnswerer, splitSentences, tokenize } from './extractive-answerer.js';

const passages = [
  { text: 'Ridgeline supports new parents. Employees receive 20 weeks of fully paid parental leave. Leave can be split into two blocks.' },
  { text: 'Laptops are replaced on a three year cycle. Lost badges must be reported to the front desk within four hours.' },
  { text: 'Ridgeline supports new parents. Parents may also work part time for 8 weeks after parental leave ends.' },
];

describe('ExtractiveAnswerer', () => {
  it('picks the sentences that share the rare query words, each with its passage marker', () => {
    const { answer, cited } = new ExtractiveAnswerer().answer({ query: 'How many weeks of paid parental leave do employees get?', passages });
    expect(answer.startsWith('Employees receive 20 weeks of fully paid parental leave. [1]')).toBe(true);
    expect(cited[0]).toBe(1);
    expect(answer).not.toMatch(/Laptops/);
  });

  it('is deterministic and cites passages in order of first use', () => {
    const answerer = new ExtractiveAnswerer({ maxSentences: 3 });
    const first = answerer.answer({ query: 'parental leave parents', passages });
    expect(answerer.answer({ query: 'parental leave parents', passages })).toEqual(first);
    expect(new Set(first.cited).size).toBe(first.cited.length);
    for (const n of first.cited) expect(first.answer).toContain(`[${n}]`);
  });

  it('does not repeat a sentence that overlapping chunks share', () => {
    const { answer } = new ExtractiveAnswerer({ maxSentences: 5 }).answer({ query: 'Ridgeline supports new parents', passages });
    expect(answer.match(/Ridgeline supports new parents/g)).toHaveLength(1);
  });

  it('falls back to the opening of the best passage when no word matches', () => {
    const { answer, cited } = new ExtractiveAnswerer().answer({ query: 'zebra xylophone', passages });
    expect(cited).toEqual([1]);
    expect(answer).toMatch(/^Ridgeline supports new parents\. \[1\]/);
  });

  it('returns nothing for no passages and truncates very long sentences', () => {
    expect(new ExtractiveAnswerer().answer({ query: 'x', passages: [] })).toEqual({ answer: '', cited: [] });
    const long = `Parental leave ${'words '.repeat(200)}end.`;
    const { answer } = new ExtractiveAnswerer({ maxSentenceChars: 100 }).answer({ query: 'parental leave', passages: [{ text: long }] });
    expect(answer.length).toBeLessThan(110);
    expect(answer).toMatch(/… \[1\]$/);
  });
});

describe('splitSentences and tokenize', () => {
  it('splits list items, headings and sentences; joins hard-wrapped lines', () => {
    expect(splitSentences('## Rate limits\nClients may send\n600 requests per minute. Bursts are allowed.\n- item one is here\n- item two is here')).toEqual([
      'Rate limits Clients may send 600 requests per minute.',
      'Bursts are allowed.',
      'item one is here',
      'item two is here',
    ]);
  });

  it('drops stop words and stems plurals and tenses alike', () => {
    expect(tokenize('How long are the tokens valid before they expire?')).toEqual(['long', 'token', 'valid', 'expir']);
    expect(tokenize('expired')).toEqual(tokenize('expires'));
    expect(tokenize('3600 seconds')).toEqual(['3600', 'second']);
  });
});
