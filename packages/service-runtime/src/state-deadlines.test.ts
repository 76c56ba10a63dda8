import { parseStateDeadlines } from './env';

describe('STATE_DEADLINES', () => {
  it('overrides some states and leaves the rest to the defaults', () => {
    expect(parseStateDeadlines(undefined)).toEqual({});
    expect(parseStateDeadlines('{"RENDERING":45,"QUEUED":30}')).toEqual({ RENDERING: 45, QUEUED: 30 });
  });

  it('refuses bad JSON, unknown or terminal states and silly values, naming the problem', () => {
    expect(() => parseStateDeadlines('{RENDERING:45}')).toThrow('STATE_DEADLINES is not valid JSON');
    expect(() => parseStateDeadlines('{"DELIVERED":45}')).toThrow(
      'STATE_DEADLINES: /DELIVERED is not an allowed field',
    );
    expect(() => parseStateDeadlines('{"RENDERING":1}')).toThrow(/STATE_DEADLINES: \/RENDERING must be >= 5/);
  });
});
