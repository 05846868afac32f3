export * from './signature';
export * from './target-guard';
export * from './deliver';
