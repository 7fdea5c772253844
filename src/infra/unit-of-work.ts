import type { DataSource, EntityManager } from './data-source.js';

/** Runs `inner` in a savepoint of the current transaction: its failure rolls back only its own statements. */
export type Savepoint<R> = <U>(inner: (repos: R) => Promise<U>) => Promise<U>;

/** Repositories outside a transaction, and a way to get them inside one. */
export interface Database<R> {
  repos: R;
  /**
   * Runs `work` in one transaction: every repository it is handed shares it. `savepoint` nests a
   * step that may fail (e.g. a unique violation) without aborting the whole transaction.
   */
  transaction<T>(work: (repos: R, savepoint: Savepoint<R>) => Promise<T>): Promise<T>;
}

/** Binds a repository set to the DataSource so services never see TypeORM. */
export function createDatabase<R>(dataSource: DataSource, reposFor: (manager: EntityManager) => R): Database<R> {
  return {
    repos: reposFor(dataSource.manager),
    transaction: (work) => dataSource.transaction((manager) =>
      // A transaction manager's own transaction() issues SAVEPOINT / RELEASE / ROLLBACK TO on the same connection.
      work(reposFor(manager), (inner) => manager.transaction((nested) => inner(reposFor(nested))))),
  };
}
