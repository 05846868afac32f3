import { Limiter } from './limiter';

describe('Limiter', () => {
  it('never runs more than its maximum, even when a task finishes while others wait', async () => {
    const limiter = new Limiter(2);
    let running = 0;
    let peak = 0;
    const task = async (ms: number) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
    };
    const all = Array.from({ length: 12 }, (_, i) => limiter.run(() => task(1 + (i % 3))));
    // a newcomer arriving exactly when a slot is handed over must wait too
    all.push(Promise.resolve().then(() => limiter.run(() => task(1))));
    await Promise.all(all);
    expect(peak).toBe(2);
    await limiter.idle();
    expect(running).toBe(0);
  });

  it('hands a finishing slot to a waiter: a newcomer arriving during the hand-over waits (every microtask offset)', async () => {
    for (let hops = 0; hops < 12; hops++) {
      const limiter = new Limiter(1);
      let running = 0;
      let peak = 0;
      const work = async (gate?: Promise<void>) => {
        running++;
        peak = Math.max(peak, running);
        await (gate ?? new Promise((r) => setTimeout(r, 2)));
        running--;
      };
      let release!: () => void;
      const gate = new Promise<void>((r) => (release = r));
      const a = limiter.run(() => work(gate));
      const b = limiter.run(() => work());
      release();
      let p = Promise.resolve();
      for (let i = 0; i < hops; i++) p = p.then(() => undefined);
      const c = p.then(() => limiter.run(() => work()));
      await Promise.all([a, b, c]);
      expect({ hops, peak }).toEqual({ hops, peak: 1 });
    }
  });

  it('keeps going after a failing task, and idle() resolves once all are done', async () => {
    const limiter = new Limiter(1);
    const order: number[] = [];
    const a = limiter.run(async () => {
      order.push(1);
      throw new Error('boom');
    });
    const b = limiter.run(async () => {
      order.push(2);
    });
    await expect(a).rejects.toThrow('boom');
    await b;
    await limiter.idle();
    expect(order).toEqual([1, 2]);
  });
});
