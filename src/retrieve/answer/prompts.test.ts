import { describe, expect, it } from 'vitest';
import { ANSWER_PROMPT, PromptLibrary, parseTemplate, renderTemplate } from './prompts.js';

describe('prompt templates', () => {
  it('loads the shipped answer template by name@version', () => {
    const prompt = PromptLibrary.load().get(ANSWER_PROMPT);
    expect(prompt.id).toBe('answer@v1');
    expect(prompt.system).toMatch(/\[1\]/);
    expect(prompt.user).toContain('{{passages}}');
    expect(prompt.passage).toContain('{{n}}');
    expect(prompt.system).not.toContain('<!--');
  });

  it('names the available templates when one is missing', () => {
    expect(() => PromptLibrary.load().get('answer@v99')).toThrow(/answer@v1/);
  });

  it('refuses templates with missing sections or unknown placeholders', () => {
    expect(() => parseTemplate('t', 1, '## system\nx\n## user\n{{passages}} {{query}}')).toThrow(/missing section "## passage"/);
    expect(() => parseTemplate('t', 1, '## system\nx\n## user\n{{passages}} {{query}} {{secret}}\n## passage\n{{n}} {{text}}')).toThrow(/\{\{secret\}\}/);
    expect(() => parseTemplate('t', 1, '## system\nx\n## user\n{{query}}\n## passage\n{{n}} {{text}}')).toThrow(/\{\{passages\}\}/);
  });

  it('substitutes in one pass, so inserted text is never re-substituted', () => {
    expect(renderTemplate('Q: {{query}} P: {{passages}}', { query: 'a', passages: 'contains {{query}}' })).toBe('Q: a P: contains {{query}}');
  });
});
