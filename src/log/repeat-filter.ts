// Says a repeated condition once: the first occurrence of a key, then nothing until the key changes,
// when the streak that ended is reported with its count. Evaluations run several times a second; a
// placement refused for the same reason each time (e.g. the account fully invested) would otherwise
// write the same warning hundreds of thousands of times a day.

export interface RepeatVerdict {
  /** This key differs from the previous one: say it. */
  first: boolean;
  /** The streak that just ended (a different key repeated this many times after its first), if any. */
  ended: { key: string; repeats: number } | null;
}

export class RepeatFilter {
  private key: string | null = null;
  private repeats = 0;

  see(key: string): RepeatVerdict {
    if (key === this.key) {
      this.repeats++;
      return { first: false, ended: null };
    }
    const ended = this.key !== null && this.repeats > 0 ? { key: this.key, repeats: this.repeats } : null;
    this.key = key;
    this.repeats = 0;
    return { first: true, ended };
  }

  /** Forgets the current streak (e.g. after something else happened in between), reporting it as see() would. */
  reset(): RepeatVerdict['ended'] {
    const ended = this.key !== null && this.repeats > 0 ? { key: this.key, repeats: this.repeats } : null;
    this.key = null;
    this.repeats = 0;
    return ended;
  }
}
