// The sgml program's commands. Each takes the full argv (argv[1] is the command name) and returns the exit code;
// errors are thrown as sgml::Error and printed by main.
#pragma once

namespace sgml {

int run_embed(int argc, char** argv);    // tools/commands/embed.cpp: features of images with converted weights
int run_train(int argc, char** argv);    // tools/commands/train.cpp
int run_eval(int argc, char** argv);     // tools/commands/eval.cpp
int run_info(int argc, char** argv);     // tools/commands/info.cpp: what a dataset folder holds
int run_prepare(int argc, char** argv);  // tools/commands/prepare.cpp: the decoded-image cache
int run_search(int argc, char** argv);   // tools/commands/search.cpp
int run_bench(int argc, char** argv);    // tools/commands/bench.cpp

}  // namespace sgml
