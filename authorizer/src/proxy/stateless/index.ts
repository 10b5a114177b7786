export { isStatelessRequest, modernVersionOf, statelessProtocolVersions } from './classify.ts';
export { cacheableMethods, handleStateless } from './handler.ts';
export { modernToolLister } from './lister.ts';
