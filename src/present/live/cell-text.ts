// How a process reads in a table cell: its pid, and its name with the exited marker and,
// where the column has room, its command line; a row of folded exited processes says how many.

export function pidText(pid: number | null): string {
  return pid === null ? '-' : String(pid);
}

export function programText(name: string, detail: string, exited: boolean, folded = 0): string {
  const label = folded > 0 ? `${name} (${folded} exited)` : exited ? `${name} (exited)` : name;
  return detail && detail !== name ? `${label}  ${detail}` : label;
}
