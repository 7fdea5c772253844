import type { DataSource, EntityManager } from './data-source.js';

/** Repositories outside a transaction, and a way to get them inside one. */
export interface Database<R> {
  repos: R;
  /** Runs `work` in one transaction: every repository it is handed shares it. */
  transaction<T>(work: (repos: R) => Promise<T>): Promise<T>;
}

/** Binds a repository set to the DataSource so services never see TypeORM. */
export function createDatabase<R>(dataSource: DataSource, reposFor: (manager: EntityManager) => R): Database<R> {
  return {
    repos: reposFor(dataSource.manager),
    transaction: (work) => dataSource.transaction((manager) => work(reposFor(manager))),
  };
}
