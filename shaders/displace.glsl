// @effect noise displacement: the image flows along a moving smooth noise field
uniform float amount;     // @param 0.02 [0, 0.2] smoothing=0.1 "how far pixels move, fraction of width"
uniform float scale;      // @param 4 [0.5, 32] smoothing=0.2 "noise features across the image"
uniform float speed;      // @param 0.3 [0, 5] smoothing=0.2 "how fast the noise changes, per second"
uniform float level_kick; // @param 0 [0, 0.2] "extra displacement with the audio level"

// Integer-hash value noise: identical on every driver, no texture needed.
float hash(vec3 p) {
    uvec3 q = uvec3(ivec3(floor(p)) + 32768);
    uint h = q.x * 73856093u ^ q.y * 19349663u ^ q.z * 83492791u;
    h = (h ^ (h >> 13u)) * 1274126177u;
    return float(h & 0xffffu) / 65535.0;
}

float noise(vec3 p) {
    vec3 i = floor(p);
    vec3 f = fract(p);
    f = f * f * (3.0 - 2.0 * f);
    float x00 = mix(hash(i), hash(i + vec3(1, 0, 0)), f.x);
    float x10 = mix(hash(i + vec3(0, 1, 0)), hash(i + vec3(1, 1, 0)), f.x);
    float x01 = mix(hash(i + vec3(0, 0, 1)), hash(i + vec3(1, 0, 1)), f.x);
    float x11 = mix(hash(i + vec3(0, 1, 1)), hash(i + vec3(1, 1, 1)), f.x);
    return mix(mix(x00, x10, f.y), mix(x01, x11, f.y), f.z);
}

void main() {
    vec3 p = vec3(v_uv * scale, u_time * speed);
    vec2 d = vec2(noise(p), noise(p + vec3(17.3, 41.7, 5.1))) * 2.0 - 1.0;
    vec2 q = v_uv + d * (amount + level_kick * u_level);
    // Mirror at the edges so the border never smears.
    q = 1.0 - abs(1.0 - mod(q, 2.0));
    frag_color = vec4(texture(u_input, q).rgb, 1.0);
}
