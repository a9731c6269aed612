#pragma once

#define EDRI_SDK_VERSION "0.1.0"
