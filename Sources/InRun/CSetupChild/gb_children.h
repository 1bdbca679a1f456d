// The launcher's children as the daemon starts them (Sources/Daemon/CSandbox/launch.c runs each with
// clone3 on a stack of its own): the entry of the prepared root's builder and of a run's setup child.
// Private to the launcher; Swift never sees it.
#ifndef GB_CHILDREN_H
#define GB_CHILDREN_H

#include "gb_launch.h"

#pragma GCC visibility push(hidden)

// The prepared root's builder: `plan`, and the socket on which it sends the root's two descriptors.
struct gb_root_builder {
    const struct gb_root *plan;
    int sock;
};

// Builds the root (root_builder.c); `arg` is a struct gb_root_builder. Exits: it never returns.
int gb_build_root_main(void *arg);

// The setup child (setup_child.c); `arg` is the struct gb_setup. Executes glovebox-init, or exits.
int gb_setup_main(void *arg);

#pragma GCC visibility pop

#endif
