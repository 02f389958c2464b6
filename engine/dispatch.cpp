#include "engine/dispatch.h"

namespace sgml {

void check_one_device(const char* op, std::initializer_list<NamedDevice> tensors) {
  if (tensors.size() < 2) return;
  const NamedDevice& first = *tensors.begin();
  for (const NamedDevice& t : tensors)
    if (t.device != first.device)
      SGML_FAIL(op, ": every tensor must be on one device, but ", first.name, " is on ", first.device.str(), " and ",
                t.name, " on ", t.device.str(), "; copy explicitly with to()");
}

}  // namespace sgml
