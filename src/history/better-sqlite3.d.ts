// The part of better-sqlite3's API the history uses, typed here because @types/better-sqlite3
// is not a dependency. Only what src/history calls is declared; add to it as needed.

declare module 'better-sqlite3' {
  namespace Database {
    interface Options {
      readonly?: boolean;
      fileMustExist?: boolean;
      /** Milliseconds to wait for a lock before SQLITE_BUSY (default 5000). */
      timeout?: number;
    }

    interface RunResult {
      changes: number;
      lastInsertRowid: number | bigint;
    }

    interface Statement<Row = unknown> {
      run(...params: unknown[]): RunResult;
      get(...params: unknown[]): Row | undefined;
      all(...params: unknown[]): Row[];
      iterate(...params: unknown[]): IterableIterator<Row>;
    }

    interface Database {
      readonly name: string;
      readonly open: boolean;
      readonly readonly: boolean;
      readonly inTransaction: boolean;
      prepare<Row = unknown>(sql: string): Statement<Row>;
      exec(sql: string): this;
      pragma(source: string, options?: { simple?: boolean }): unknown;
      /** Wraps fn in BEGIN/COMMIT (ROLLBACK when it throws); `.immediate` takes the write lock first. */
      transaction<A extends unknown[], R>(fn: (...args: A) => R): ((...args: A) => R) & { immediate: (...args: A) => R };
      /** A JavaScript function callable from SQL. */
      function(name: string, options: { deterministic?: boolean; varargs?: boolean }, fn: (...args: unknown[]) => unknown): this;
      close(): this;
    }
  }

  interface DatabaseConstructor {
    new (filename: string, options?: Database.Options): Database.Database;
  }

  const Database: DatabaseConstructor;
  export = Database;
}
