// What a build counts while its stages run side by side. The counters are the only build-wide state the stages
// write, so they live behind named operations rather than as fields any step may assign.

export interface BuildStats {
  steps: number;
  cached: number;
  containers: number;
  layersWritten: number;
}

export class BuildTally {
  private readonly counts: BuildStats = { steps: 0, cached: 0, containers: 0, layersWritten: 0 };
  private readonly args = new Set<string>();
  private readonly checks = new Set<string>();

  /** A step finished, from the cache or not. */
  step(cached: boolean): void {
    this.counts.steps++;
    if (cached) this.counts.cached++;
  }
  /** A RUN started a container. */
  container(): void {
    this.counts.containers++;
  }
  /** A step committed a layer with changes. */
  layerWritten(): void {
    this.counts.layersWritten++;
  }
  /** A build arg given on the command line was consumed by an ARG. */
  argUsed(name: string): void {
    this.args.add(name);
  }

  /** A build check fired while the stages ran. */
  checkFired(rule: string): void {
    this.checks.add(rule);
  }

  get checksFired(): ReadonlySet<string> {
    return this.checks;
  }
  get containersStarted(): boolean {
    return this.counts.containers > 0;
  }
  get usedArgs(): ReadonlySet<string> {
    return this.args;
  }
  snapshot(): BuildStats {
    return { ...this.counts };
  }
}
