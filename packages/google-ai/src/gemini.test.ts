import type { GenerateContentResponse } from '@google/genai';
import { readGeminiJson, SAFETY_FINISH_REASONS } from './gemini';

const answer = (parts: { text: string; thought?: boolean }[], finishReason = 'STOP') =>
  ({ candidates: [{ content: { role: 'model', parts }, finishReason }] }) as unknown as GenerateContentResponse;

describe('readGeminiJson', () => {
  it('parses the answer text, leaving out thought parts', () => {
    expect(readGeminiJson(answer([{ text: 'thinking…', thought: true }, { text: '{"a":' }, { text: '1}' }]))).toEqual({
      kind: 'json',
      value: { a: 1 },
    });
  });

  it('reports a blocked prompt and a safety finish as blocked, by the caller’s list of reasons', () => {
    const blocked = {
      promptFeedback: { blockReason: 'PROHIBITED_CONTENT', blockReasonMessage: 'no' },
    } as unknown as GenerateContentResponse;
    expect(readGeminiJson(blocked)).toEqual({ kind: 'blocked', reason: 'PROHIBITED_CONTENT: no' });
    expect(readGeminiJson(answer([], 'SAFETY'))).toEqual({ kind: 'blocked', reason: 'SAFETY' });
    const recitation = answer([{ text: '{}' }], 'RECITATION');
    expect(readGeminiJson(recitation)).toEqual({ kind: 'json', value: {} });
    expect(readGeminiJson(recitation, new Set([...SAFETY_FINISH_REASONS, 'RECITATION']))).toMatchObject({
      kind: 'blocked',
    });
  });

  it('says why an answer is unusable, with a redacted excerpt of text that is not JSON', () => {
    expect(readGeminiJson({} as GenerateContentResponse)).toEqual({
      kind: 'unusable',
      why: 'the answer has no candidates',
    });
    expect(readGeminiJson(answer([{ text: '  ' }], 'MAX_TOKENS'))).toEqual({
      kind: 'unusable',
      why: 'the answer has no text (finishReason MAX_TOKENS)',
    });
    const prose = readGeminiJson(answer([{ text: 'Sure! Bearer abc123 here is {' }]));
    expect(prose).toMatchObject({
      kind: 'unusable',
      why: expect.stringMatching(
        /^the answer is not JSON \(.*; finishReason STOP\): Sure! Bearer \[REDACTED\] here is \{$/,
      ),
    });
  });
});
