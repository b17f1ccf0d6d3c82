/**
 * The error thrown for a config that cannot be used.
 *
 * @module
 */

/**
 * A config that cannot be read or is invalid. `problems` holds every problem
 * found, one line each, in the form
 * `config: <key path>: expected <what>, got <value as JSON>`; the message is
 * those lines joined with newlines.
 */
export class ConfigError extends Error {
  /** Every problem found, one line each, in the order found. */
  readonly problems: readonly string[];

  /** Creates the error from at least one problem line. */
  constructor(problems: readonly string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = [...problems];
  }
}
