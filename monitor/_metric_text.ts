/**
 * The Prometheus text exposition format (version 0.0.4), written family by family: each
 * family's `# HELP` and `# TYPE` once, then its samples together, label values escaped.
 *
 * ```
 * # HELP speedo_messages_in_total Messages dispatched by protocol handlers.
 * # TYPE speedo_messages_in_total counter
 * speedo_messages_in_total{protocol="echo",loop="0"} 42
 * ```
 *
 * @module
 */

/** The kinds of metric family this writer knows. */
export type MetricType = "counter" | "gauge" | "histogram";

/** Label names and values of one sample, in the order given. */
export type MetricLabels = Readonly<Record<string, string | number>>;

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

interface Family {
  readonly help: string;
  readonly type: MetricType;
  readonly lines: string[];
}

/** A text exposition under construction; {@linkcode MetricText.text} writes it out. */
export class MetricText {
  readonly #families = new Map<string, Family>();

  /**
   * Declares a family (again is fine when it agrees).
   *
   * @throws {TypeError} When the name is not a metric name, or the family was declared with
   *   another type.
   */
  family(name: string, type: MetricType, help: string): void {
    if (!NAME.test(name)) throw new TypeError(`Not a metric name: "${name}"`);
    const known = this.#families.get(name);
    if (known === undefined) this.#families.set(name, { help, type, lines: [] });
    else if (known.type !== type) {
      throw new TypeError(`Metric "${name}" is a ${known.type}, not a ${type}`);
    }
  }

  /**
   * Adds a sample of a declared family; `suffix` names a histogram's `_bucket`, `_sum` or
   * `_count` series.
   *
   * @throws {TypeError} When the family is not declared, or a label name is not one.
   */
  sample(family: string, labels: MetricLabels, value: number, suffix = ""): void {
    const known = this.#families.get(family);
    if (known === undefined) throw new TypeError(`Metric "${family}" has no family declared`);
    let text = family + suffix;
    const names = Object.keys(labels);
    if (names.length > 0) {
      const parts: string[] = [];
      for (const label of names) {
        if (!LABEL.test(label)) throw new TypeError(`Not a label name: "${label}"`);
        parts.push(`${label}="${escapeLabelValue(String(labels[label]))}"`);
      }
      text += `{${parts.join(",")}}`;
    }
    known.lines.push(`${text} ${formatValue(value)}`);
  }

  /** The exposition: every family with samples, in the order declared, ending in a newline. */
  text(): string {
    let out = "";
    for (const [name, family] of this.#families) {
      if (family.lines.length === 0) continue;
      out += `# HELP ${name} ${escapeHelp(family.help)}\n# TYPE ${name} ${family.type}\n`;
      out += family.lines.join("\n") + "\n";
    }
    return out;
  }
}

/** A label value as the format wants it: backslash, double quote and line feed escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => c === "\n" ? "\\n" : `\\${c}`);
}

/** A HELP text as the format wants it: backslash and line feed escaped. */
export function escapeHelp(help: string): string {
  return help.replace(/[\\\n]/g, (c) => c === "\n" ? "\\n" : "\\\\");
}

/** A sample value: integers as they are, `NaN`, `+Inf`, `-Inf` spelled as the format does. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}
