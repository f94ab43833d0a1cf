/** A source text with a name and a lazily built line table, for mapping offsets to line/column. */
export interface Span {
  /** UTF-16 offset of the first character. */
  start: number;
  /** UTF-16 offset one past the last character (== start for an empty span). */
  end: number;
}

export const NO_SPAN: Span = { start: 0, end: 0 };

export function spanUnion(a: Span, b: Span): Span {
  return { start: Math.min(a.start, b.start), end: Math.max(a.end, b.end) };
}

export interface LineCol {
  /** 1-based line. */
  line: number;
  /** 1-based column, counted in UTF-16 code units. */
  col: number;
}

export class SourceFile {
  private lineStarts: number[] | undefined;
  constructor(
    readonly name: string,
    readonly text: string,
  ) {}

  private starts(): number[] {
    if (!this.lineStarts) {
      const s = [0];
      for (let i = 0; i < this.text.length; i++) if (this.text.charCodeAt(i) === 10) s.push(i + 1);
      this.lineStarts = s;
    }
    return this.lineStarts;
  }

  lineCol(offset: number): LineCol {
    const s = this.starts();
    const o = Math.max(0, Math.min(offset, this.text.length));
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= o) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, col: o - s[lo]! + 1 };
  }

  /** The text of a 1-based line, without its line break. */
  lineText(line: number): string {
    const s = this.starts();
    const start = s[line - 1] ?? this.text.length;
    let end = s[line] !== undefined ? s[line]! - 1 : this.text.length;
    if (end > start && this.text.charCodeAt(end - 1) === 13) end--;
    return this.text.slice(start, end);
  }

  lineCount(): number {
    return this.starts().length;
  }

  lineStart(line: number): number {
    return this.starts()[line - 1] ?? this.text.length;
  }
}
