// rollbackctl: the command line for the receiver's API and the post-deploy gate; main() only calls run_ctl.
#include "ctl/commands.hpp"

int main(int argc, char** argv) {
    return rollback::run_ctl(argc, argv);
}
