// Graphviz's context (libgvc) and graph (libcgraph) APIs.
// Debian 12: libgraphviz-dev (pkg-config names libgvc, libcgraph, libcdt).
#include <graphviz/gvc.h>
#include <graphviz/cgraph.h>
