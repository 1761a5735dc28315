// Where a JSON text goes wrong, without quoting it. V8's JSON.parse messages quote
// a snippet of the input ("Unexpected token ..., "...": is not valid JSON"), and a
// config file holds key material: so the config loader reports only the position
// this scanner finds (RFC 8259 grammar, the one JSON.parse accepts).

export interface JsonErrorPosition {
  /** UTF-16 offset of the first character that cannot continue a JSON text. */
  readonly offset: number;
  /** 1-based line and column (in characters) of that offset. */
  readonly line: number;
  readonly column: number;
}

class Stop {
  constructor(readonly at: number) {}
}

/** The first syntax error of `text`; undefined when it is valid JSON (or nested too deep to scan). */
export function jsonErrorPosition(text: string): JsonErrorPosition | undefined {
  const at = errorOffset(text);
  if (at === undefined) return undefined;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < at; i++) {
    if (text.charCodeAt(i) === 0x0a) {
      line++;
      lineStart = i + 1;
    }
  }
  return { offset: at, line, column: at - lineStart + 1 };
}

function errorOffset(text: string): number | undefined {
  let i = 0;
  const n = text.length;
  const stop = (): never => {
    throw new Stop(i);
  };
  const code = (): number => (i < n ? text.charCodeAt(i) : -1);
  const isDigit = (c: number): boolean => c >= 0x30 && c <= 0x39;
  const isHex = (c: number): boolean => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
  const ws = (): void => {
    for (let c = code(); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = code()) i++;
  };
  const expect = (c: number): void => {
    if (code() !== c) stop();
    i++;
  };
  const literal = (word: string): void => {
    for (let k = 0; k < word.length; k++) expect(word.charCodeAt(k));
  };
  const digits = (): void => {
    if (!isDigit(code())) stop();
    while (isDigit(code())) i++;
  };
  const number = (): void => {
    if (code() === 0x2d) i++;
    if (code() === 0x30) i++;
    else digits();
    if (code() === 0x2e) {
      i++;
      digits();
    }
    if (code() === 0x65 || code() === 0x45) {
      i++;
      if (code() === 0x2b || code() === 0x2d) i++;
      digits();
    }
  };
  const string = (): void => {
    expect(0x22);
    for (;;) {
      const c = code();
      if (c === 0x22) {
        i++;
        return;
      }
      if (c < 0x20) stop(); // end of text (-1) or a raw control character
      if (c === 0x5c) {
        i++;
        const e = code();
        if (e === 0x75) {
          i++;
          for (let k = 0; k < 4; k++) {
            if (!isHex(code())) stop();
            i++;
          }
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) i++;
        else stop();
      } else i++;
    }
  };
  const value = (): void => {
    ws();
    const c = code();
    if (c === 0x7b) {
      i++;
      ws();
      if (code() === 0x7d) {
        i++;
        return;
      }
      for (;;) {
        ws();
        string();
        ws();
        expect(0x3a);
        value();
        ws();
        if (code() === 0x2c) {
          i++;
          continue;
        }
        expect(0x7d);
        return;
      }
    }
    if (c === 0x5b) {
      i++;
      ws();
      if (code() === 0x5d) {
        i++;
        return;
      }
      for (;;) {
        value();
        ws();
        if (code() === 0x2c) {
          i++;
          continue;
        }
        expect(0x5d);
        return;
      }
    }
    if (c === 0x22) return string();
    if (c === 0x74) return literal("true");
    if (c === 0x66) return literal("false");
    if (c === 0x6e) return literal("null");
    if (c === 0x2d || isDigit(c)) return number();
    stop();
  };
  try {
    value();
    ws();
    if (i < n) stop();
    return undefined;
  } catch (e) {
    if (e instanceof Stop) return e.at;
    if (e instanceof RangeError) return undefined; // nesting deeper than the stack
    throw e;
  }
}
